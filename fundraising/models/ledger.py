"""The ledger proper: accounts, transactions and their entries, and the digest that seals a transaction."""

import datetime as dt
import hashlib
import hmac
import json

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from fundraising.models.common import AMOUNT, AppendOnlyModel
from fundraising.models.rules import Beneficiary
from fundraising.money import to_minor


class Account(models.Model):
    class Kind(models.TextChoices):
        PAYABLE = "payable", _("beneficiary payable")
        DISBURSED = "disbursed", _("beneficiary disbursed")
        RECEIVABLE = "receivable", _("beneficiary receivable (reversed after payout)")
        DONATIONS = "donations", _("campaign donations")

    BENEFICIARY_KINDS = (Kind.PAYABLE, Kind.DISBURSED, Kind.RECEIVABLE)
    #: Accounts whose balance is credits minus debits; the others are debit-normal.
    CREDIT_NORMAL = (Kind.PAYABLE, Kind.DISBURSED)

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    beneficiary = models.ForeignKey(
        Beneficiary, null=True, blank=True, on_delete=models.PROTECT, related_name="accounts"
    )
    currency = models.CharField(_("currency"), max_length=3)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["currency", "kind", "beneficiary_id"]
        verbose_name = _("ledger account")
        constraints = [
            # NULLs are distinct in a UNIQUE index, so the campaign accounts need their own constraint.
            models.UniqueConstraint(
                fields=["kind", "beneficiary", "currency"], condition=Q(beneficiary__isnull=False),
                name="account_unique_per_beneficiary",
            ),
            models.UniqueConstraint(
                fields=["kind", "currency"], condition=Q(beneficiary__isnull=True), name="account_unique_campaign"
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind="donations", beneficiary__isnull=True)
                    | Q(kind__in=["payable", "disbursed", "receivable"], beneficiary__isnull=False)
                ),
                name="account_owner_matches_kind",
            ),
        ]

    def __str__(self):
        return f"{self.code} {self.currency}"

    @property
    def code(self):
        """Stable name used in exports: ``payable:<slug>``, ``campaign:donations``."""
        if self.beneficiary_id is None:
            return f"campaign:{self.kind}"
        return f"{self.kind}:{self.beneficiary.slug}"


class LedgerTransaction(AppendOnlyModel):
    class Kind(models.TextChoices):
        SALE = "sale", _("sale")
        REFUND = "refund", _("refund")
        DISPUTE = "dispute", _("dispute lost")
        DISBURSEMENT = "disbursement", _("disbursement")
        ADJUSTMENT = "adjustment", _("adjustment")
        RESTORATION = "restoration", _("reversal undone (refund failed)")
        PARTNER_SALE = "partner_sale", _("partner sale")
        PARTNER_RETURN = "partner_return", _("partner return")

    REVERSAL_KINDS = (Kind.REFUND, Kind.DISPUTE)
    #: Kinds that move a sale's donation back (reversals) or forward again (a restoration mirrors one
    #: reversal, e.g. a refund that failed after it succeeded; its ``reference`` is the reversal's key).
    CORRECTION_KINDS = (Kind.REFUND, Kind.DISPUTE, Kind.RESTORATION)
    #: Lines of partners' sales reports (``partner:<partner slug>:<line id>``, no order; see ``PartnerSaleLine``).
    PARTNER_KINDS = (Kind.PARTNER_SALE, Kind.PARTNER_RETURN)

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    idempotency_key = models.CharField(_("idempotency key"), max_length=255, unique=True)
    currency = models.CharField(_("currency"), max_length=3)
    order = models.ForeignKey(
        "order.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_transactions"
    )
    reference = models.CharField(
        _("reference"), max_length=255, blank=True,
        help_text=_("Stripe refund or dispute id, payout reference."),
    )
    basis_amount = models.DecimalField(
        _("basis amount"), null=True, blank=True,
        help_text=_("Sale: the captured order total; refund/dispute: the money refunded or lost by this "
                    "event; disbursement: the amount paid out."),
        **AMOUNT,
    )
    memo = models.TextField(_("memo"), blank=True)
    posted_at = models.DateTimeField(_("posted at"), default=timezone.now, db_index=True)
    # PROTECT, not SET_NULL: nulling it would be an UPDATE, which the ledger refuses. Deactivate users.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    digest = models.CharField(_("digest"), max_length=64)

    class Meta(AppendOnlyModel.Meta):
        ordering = ["id"]
        verbose_name = _("ledger transaction")
        constraints = [
            models.CheckConstraint(
                condition=Q(basis_amount__isnull=True) | Q(basis_amount__gte=0), name="ledger_transaction_basis"
            ),
        ]
        indexes = [models.Index(fields=["order", "kind"], name="ledger_txn_order_kind")]

    def __str__(self):
        return self.idempotency_key


class Entry(AppendOnlyModel):
    transaction = models.ForeignKey(LedgerTransaction, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    currency = models.CharField(_("currency"), max_length=3)
    debit = models.DecimalField(_("debit"), default=0, **AMOUNT)
    credit = models.DecimalField(_("credit"), default=0, **AMOUNT)
    # Copy of the transaction's posted_at, so statements range-scan (account, posted_at) without a join.
    posted_at = models.DateTimeField(_("posted at"))

    class Meta(AppendOnlyModel.Meta):
        ordering = ["id"]
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        constraints = [
            models.CheckConstraint(condition=Q(debit__gte=0, credit__gte=0), name="entry_not_negative"),
            models.CheckConstraint(
                condition=Q(debit__gt=0, credit=0) | Q(debit=0, credit__gt=0), name="entry_one_side_positive"
            ),
        ]
        indexes = [
            models.Index(fields=["account", "id"], name="entry_account_id"),
            models.Index(fields=["account", "posted_at"], name="entry_account_posted_at"),
        ]

    def __str__(self):
        side = f"Dr {self.debit}" if self.debit else f"Cr {self.credit}"
        return f"{self.account_id} {side} {self.currency}"


def ledger_key():
    """The digests' HMAC key: ``P6_LEDGER_KEY`` from the environment, else one derived from SECRET_KEY."""
    if settings.FUNDRAISING_LEDGER_KEY:
        return settings.FUNDRAISING_LEDGER_KEY.encode()
    return salted_hmac("fundraising.ledger-digest", "key", algorithm="sha256").digest()


def transaction_digest(*, kind, idempotency_key, currency, order_id, reference, basis_amount, memo, posted_at,
                       created_by_id, entries, version="v2", key=None):
    """The seal of a transaction and its entries ``[(account_id, debit, credit), ...]``, canonically encoded.

    v2 (every posting since migration 0010): HMAC-SHA256 keyed with ``ledger_key()``, so a row rewritten behind the
    triggers' back cannot be re-sealed without the key. v1 (before): plain SHA-256, kept only for that migration.
    Amounts are encoded in integer minor units and the time in UTC microseconds, so the digest is the same whether
    computed before the insert or from the rows read back (SQLite or PostgreSQL).
    """
    posted = posted_at.astimezone(dt.timezone.utc) if posted_at else None
    payload = [
        version, kind, idempotency_key, currency, order_id, reference,
        None if basis_amount is None else to_minor(basis_amount, currency),
        memo, posted.isoformat(timespec="microseconds") if posted else None, created_by_id,
        sorted([account_id, to_minor(debit, currency), to_minor(credit, currency)]
               for account_id, debit, credit in entries),
    ]
    message = json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()
    if version == "v1":
        return hashlib.sha256(message).hexdigest()
    if version != "v2":
        raise ValueError(f"unknown digest version {version!r}")
    return hmac.new(key or ledger_key(), message, hashlib.sha256).hexdigest()
