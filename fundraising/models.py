"""The donation ledger: beneficiaries, share rules, per-line breakdowns, accounts, transactions, entries.

Design (DESIGN.md "Money rules" and "The ledger"); keep this docstring true.

- ``Beneficiary``, ``ShareRule`` and ``ShareRuleBeneficiary`` say which share of profit (basis points)
  is donated and how it is split (integer weights). A rule used by an order is never edited:
  ``services.set_share_rule`` closes the open rule (``valid_to``) and opens a new one, so an order
  keeps the rule in force when it was placed.
- ``OrderLineBreakdown`` (one per Oscar order line) is written when the order is placed (revenue
  excluding tax after discounts, unit cost, quantity, rule, share) and completed once when the payment
  is captured (fee share, profit, donation); ``BreakdownPart`` holds each beneficiary's part and the
  weight it was split by. Every figure can be recomputed with ``fundraising.allocation``.
- ``Account`` per (kind, beneficiary, currency): a beneficiary's PAYABLE (what the campaign owes it),
  DISBURSED (what was paid out to it) and RECEIVABLE (donations reversed after they were paid out:
  the part of a reversal the payable could not absorb); the campaign's DONATIONS account is the other
  side of every donation. Balances are per currency, never mixed.
- ``LedgerTransaction`` (unique idempotency key, one currency) and ``Entry`` (positive debit xor
  positive credit) are append-only, like ``Disbursement``, ``BreakdownPart`` and ``ReversalLine`` /
  ``ReversalLinePart`` (which lines and parts a by-line refund reversed). Every transaction sums to zero. A sale whose donation is zero is
  still posted, as a transaction with no entries, so "every paid order has its sale" holds uniformly.
  ``digest`` (SHA-256 of the transaction and its entries) lets ``verify_ledger`` detect a row changed
  behind the triggers' back.
- Enforcement: the ORM refuses ``update()``/``delete()``/re-``save()`` of append-only rows
  (``AppendOnlyQuerySet``, ``AppendOnlyModel``); migration 0002 installs triggers refusing UPDATE and
  DELETE on PostgreSQL and SQLite, and on PostgreSQL a deferred constraint trigger refusing, at commit,
  a transaction whose entries do not sum to zero. TRUNCATE (PostgreSQL) and Django's ``flush``
  (SQLite, see ``fundraising.db``) still empty the tables: they are whole-database resets, not edits.
- Balances: ``BalanceCheckpoint`` + ``CheckpointTotal`` hold cumulative totals per (account, kind) of
  every entry with ``id <= upto_entry_id``; a balance is the latest checkpoint plus the entries after
  it (index on (account, id)). Sales never update or lock a shared row; only reversals, disbursements
  and adjustments, which can take money *out* of an account, lock accounts.
- Amounts are ``DecimalField(max_digits=18, decimal_places=4)``: four places hold the minor unit of
  every ISO 4217 currency (CLF has 4, KWD 3, JPY 0); services store amounts at the currency's minor
  unit: amounts given by callers must already be exact (finer is refused), Oscar's 2-decimal prices
  are rounded half-up to it (they only differ for 0-decimal currencies).
- A migration that alters an append-only table on SQLite rebuilds it and drops its triggers: it must
  re-create them (``verify_ledger`` reports missing triggers).
"""

import datetime as dt
import hashlib
import json

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fundraising.allocation import BPS_WHOLE
from fundraising.exceptions import AppendOnlyError, RuleInUse
from fundraising.money import to_minor

AMOUNT = {"max_digits": 18, "decimal_places": 4}
#: Order statuses that mean the money was taken (settings.SHOP_PAID_ORDER_STATUSES, next to the pipeline).
PAID_ORDER_STATUSES = tuple(settings.SHOP_PAID_ORDER_STATUSES)

# A slug that is also a valid beancount account component once capitalised, and safe in CSV cells.
slug_validator = RegexValidator(
    r"^[a-z0-9]+(?:-[a-z0-9]+)*$", _("Lower-case letters, digits and single dashes between them.")
)


# --- append-only machinery ---------------------------------------------------------------------------


class AppendOnlyQuerySet(models.QuerySet):
    """A queryset that cannot change rows: the ledger is corrected by new transactions, never edited."""

    def _refuse(self, what):
        raise AppendOnlyError(
            f"{self.model._meta.label} is append-only: {what} refused (post a reversing transaction instead)"
        )

    def update(self, **kwargs):
        self._refuse("update()")

    def delete(self):
        self._refuse("delete()")

    def bulk_update(self, objs, fields, batch_size=None):
        self._refuse("bulk_update()")

    def _raw_delete(self, using):
        # What Django's deletion collector uses for "fast" deletes; refuse it too.
        self._refuse("delete()")

    _raw_delete.queryset_only = True


class AppendOnlyManager(models.Manager.from_queryset(AppendOnlyQuerySet)):
    pass


class AppendOnlyModel(models.Model):
    """A row that is inserted once and never changed or deleted (the database refuses it as well)."""

    objects = AppendOnlyManager()

    class Meta:
        abstract = True
        # Django's internal lookups (related managers, the deletion collector) use the base manager.
        base_manager_name = "objects"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError(f"{self._meta.label} is append-only: saving an existing row refused")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{self._meta.label} is append-only: delete() refused")


# --- beneficiaries and share rules --------------------------------------------------------------------


class Beneficiary(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    slug = models.SlugField(_("slug"), max_length=80, unique=True, validators=[slug_validator])
    description = models.CharField(_("short description"), max_length=500, blank=True)
    country = models.CharField(_("country"), max_length=2, help_text=_("ISO 3166-1 alpha-2 code, e.g. RU"))
    active = models.BooleanField(_("active"), default=True)
    default_weight = models.PositiveIntegerField(
        _("default weight"), default=1, validators=[MinValueValidator(1)],
        help_text=_("Weight proposed when a new share rule is set; each rule stores its own weights."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("beneficiary")
        verbose_name_plural = _("beneficiaries")
        constraints = [
            models.CheckConstraint(condition=Q(default_weight__gt=0), name="beneficiary_default_weight_positive"),
        ]

    def __str__(self):
        return self.name


class ShareRule(models.Model):
    """The share of each line's profit that is donated, from ``valid_from`` until ``valid_to``."""

    share_bps = models.PositiveIntegerField(
        _("share (basis points)"), validators=[MaxValueValidator(BPS_WHOLE)],
        # Translators: a literal percent sign, not a format. xgettext:no-python-format
        help_text=_("5000 = 50 % of the profit."),
    )
    valid_from = models.DateTimeField(_("valid from"), default=timezone.now, db_index=True)
    valid_to = models.DateTimeField(_("valid to"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("created by"),
    )
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-valid_from"]
        verbose_name = _("share rule")
        verbose_name_plural = _("share rules")
        constraints = [
            models.CheckConstraint(condition=Q(share_bps__lte=BPS_WHOLE), name="share_rule_bps_range"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=models.F("valid_from")),
                name="share_rule_valid_to_after_valid_from",
            ),
        ]

    def __str__(self):
        return f"{self.share_bps / 100:g} % from {self.valid_from:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        # Closing a rule (valid_to) is how it is replaced; changing what it said is rewriting history.
        if self.pk is not None and not self._state.adding:
            before = ShareRule.objects.filter(pk=self.pk).values("share_bps", "valid_from").first()
            if before and (before["share_bps"], before["valid_from"]) != (self.share_bps, self.valid_from):
                if self.is_used():
                    raise RuleInUse("this share rule was used by orders: set a new rule instead of editing it")
        super().save(*args, **kwargs)

    def is_used(self):
        return self.breakdowns.exists()


class ShareRuleBeneficiary(models.Model):
    rule = models.ForeignKey(ShareRule, on_delete=models.CASCADE, related_name="allocations")
    beneficiary = models.ForeignKey(Beneficiary, on_delete=models.PROTECT, related_name="rule_allocations")
    weight = models.PositiveIntegerField(_("weight"), validators=[MinValueValidator(1)])

    class Meta:
        ordering = ["rule", "beneficiary_id"]
        verbose_name = _("share rule beneficiary")
        constraints = [
            models.UniqueConstraint(fields=["rule", "beneficiary"], name="share_rule_beneficiary_unique"),
            models.CheckConstraint(condition=Q(weight__gt=0), name="share_rule_beneficiary_weight_positive"),
        ]

    def __str__(self):
        return f"{self.beneficiary} × {self.weight}"

    def save(self, *args, **kwargs):
        if self.rule_id and self.rule.is_used():
            raise RuleInUse("this share rule was used by orders: its weights cannot change")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.rule.is_used():
            raise RuleInUse("this share rule was used by orders: its weights cannot change")
        return super().delete(*args, **kwargs)


# --- per-line breakdown -------------------------------------------------------------------------------


class OrderLineBreakdown(models.Model):
    """Every figure of one order line's donation (DESIGN "Money rules"), stored so anyone can recompute it.

    Snapshot fields are written at placement; the capture fields (``fee_share`` .. ``completed_at``)
    are null until ``services.post_sale`` completes the row, once. ``save()`` refuses to change an
    existing row: the snapshot is history, and completion goes through the service's conditional update.
    """

    line = models.OneToOneField("order.Line", on_delete=models.PROTECT, related_name="donation_breakdown")
    order = models.ForeignKey("order.Order", on_delete=models.PROTECT, related_name="donation_breakdowns")
    currency = models.CharField(_("currency"), max_length=3)
    quantity = models.PositiveIntegerField(_("quantity"))
    revenue_excl_tax = models.DecimalField(_("revenue excl. tax after discounts"), **AMOUNT)
    unit_cost = models.DecimalField(_("unit cost"), **AMOUNT)
    unit_cost_missing = models.BooleanField(
        _("unit cost missing"), default=False,
        help_text=_("No unit cost (in the order currency) was recorded for the stock record: 0 was used."),
    )
    rule = models.ForeignKey(ShareRule, null=True, blank=True, on_delete=models.PROTECT, related_name="breakdowns")
    share_bps = models.PositiveIntegerField(_("share (basis points)"))
    snapshotted_at = models.DateTimeField(_("snapshot taken at"))
    snapshotted_late = models.BooleanField(
        _("snapshot taken at capture"), default=False,
        help_text=_("The order was placed without a snapshot; it was taken at capture with the rule in "
                    "force when the order was placed and the unit costs of that moment."),
    )
    fee_share = models.DecimalField(_("payment fee share"), null=True, blank=True, **AMOUNT)
    fee_estimated = models.BooleanField(_("fee estimated"), null=True, blank=True)
    profit = models.DecimalField(_("profit"), null=True, blank=True, **AMOUNT)
    donation = models.DecimalField(_("donation"), null=True, blank=True, **AMOUNT)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    class Meta:
        ordering = ["order_id", "line_id"]
        verbose_name = _("order line breakdown")
        constraints = [
            models.CheckConstraint(condition=Q(share_bps__lte=BPS_WHOLE), name="breakdown_share_bps_range"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="breakdown_quantity_positive"),
            models.CheckConstraint(
                condition=Q(revenue_excl_tax__gte=0, unit_cost__gte=0), name="breakdown_snapshot_not_negative"
            ),
            models.CheckConstraint(
                condition=(
                    Q(completed_at__isnull=True, fee_share__isnull=True, fee_estimated__isnull=True,
                      profit__isnull=True, donation__isnull=True)
                    | Q(completed_at__isnull=False, fee_share__gte=0, fee_estimated__isnull=False,
                        profit__gte=0, donation__gte=0, donation__lte=models.F("profit"))
                ),
                name="breakdown_completed_all_or_nothing",
            ),
        ]

    def __str__(self):
        return f"breakdown of line {self.line_id} (order {self.order_id})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("a breakdown snapshot is history: it is completed by services.post_sale only")
        super().save(*args, **kwargs)


class BreakdownPart(AppendOnlyModel):
    breakdown = models.ForeignKey(OrderLineBreakdown, on_delete=models.PROTECT, related_name="parts")
    beneficiary = models.ForeignKey(Beneficiary, on_delete=models.PROTECT, related_name="breakdown_parts")
    weight = models.PositiveIntegerField(_("weight"))
    amount = models.DecimalField(_("amount"), **AMOUNT)

    class Meta(AppendOnlyModel.Meta):
        ordering = ["breakdown_id", "beneficiary_id"]
        verbose_name = _("breakdown part")
        constraints = [
            models.UniqueConstraint(fields=["breakdown", "beneficiary"], name="breakdown_part_unique"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="breakdown_part_not_negative"),
        ]

    def __str__(self):
        return f"{self.breakdown_id}:{self.beneficiary_id} {self.amount}"


# --- ledger -------------------------------------------------------------------------------------------


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

    REVERSAL_KINDS = (Kind.REFUND, Kind.DISPUTE)
    #: Kinds that move a sale's donation back (reversals) or forward again (a restoration mirrors one
    #: reversal, e.g. a refund that failed after it succeeded; its ``reference`` is the reversal's key).
    CORRECTION_KINDS = (Kind.REFUND, Kind.DISPUTE, Kind.RESTORATION)

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


class Disbursement(AppendOnlyModel):
    beneficiary = models.ForeignKey(Beneficiary, on_delete=models.PROTECT, related_name="disbursements")
    amount = models.DecimalField(_("amount"), **AMOUNT)
    currency = models.CharField(_("currency"), max_length=3)
    paid_on = models.DateField(_("paid on"))
    reference = models.CharField(_("payout reference"), max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    transaction = models.OneToOneField(LedgerTransaction, on_delete=models.PROTECT, related_name="disbursement")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta(AppendOnlyModel.Meta):
        ordering = ["-paid_on", "-id"]
        verbose_name = _("disbursement")
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="disbursement_positive")]

    def __str__(self):
        return f"{self.amount} {self.currency} to {self.beneficiary} on {self.paid_on}"


class ReversalLine(AppendOnlyModel):
    """The quantity of an order line that a by-line refund reversed (its parts below)."""

    transaction = models.ForeignKey(LedgerTransaction, on_delete=models.PROTECT, related_name="reversal_lines")
    line = models.ForeignKey("order.Line", on_delete=models.PROTECT, related_name="donation_reversals")
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta(AppendOnlyModel.Meta):
        ordering = ["transaction_id", "line_id"]
        constraints = [
            models.UniqueConstraint(fields=["transaction", "line"], name="reversal_line_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="reversal_line_quantity_positive"),
        ]

    def __str__(self):
        return f"{self.transaction_id}: line {self.line_id} x{self.quantity}"


class ReversalLinePart(AppendOnlyModel):
    reversal_line = models.ForeignKey(ReversalLine, on_delete=models.PROTECT, related_name="parts")
    beneficiary = models.ForeignKey(Beneficiary, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(_("amount"), **AMOUNT)

    class Meta(AppendOnlyModel.Meta):
        ordering = ["reversal_line_id", "beneficiary_id"]
        constraints = [
            models.UniqueConstraint(fields=["reversal_line", "beneficiary"], name="reversal_line_part_unique"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="reversal_line_part_not_negative"),
        ]

    def __str__(self):
        return f"{self.reversal_line_id}:{self.beneficiary_id} {self.amount}"


# --- balance checkpoints ------------------------------------------------------------------------------


class BalanceCheckpoint(models.Model):
    """Cumulative totals of every entry with ``id <= upto_entry_id`` (derived data, rebuildable).

    Taken by ``services.take_balance_checkpoint`` only once no entry with a lower id can still commit,
    so "checkpoint + entries with a higher id" is exact. ``max_posted_at`` lets a statement start from
    the latest checkpoint whose entries all precede the period.
    """

    upto_entry_id = models.BigIntegerField(_("up to entry id"), unique=True)
    max_posted_at = models.DateTimeField(_("latest posted_at covered"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-upto_entry_id"]
        get_latest_by = "upto_entry_id"

    def __str__(self):
        return f"checkpoint up to entry {self.upto_entry_id}"


class CheckpointTotal(models.Model):
    checkpoint = models.ForeignKey(BalanceCheckpoint, on_delete=models.CASCADE, related_name="totals")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("transaction kind"), max_length=20, choices=LedgerTransaction.Kind.choices)
    debit = models.DecimalField(**AMOUNT)
    credit = models.DecimalField(**AMOUNT)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["checkpoint", "account", "kind"], name="checkpoint_total_unique"),
        ]

    def __str__(self):
        return f"{self.checkpoint_id}: {self.account_id} {self.kind} {self.debit}/{self.credit}"


# --- digest -------------------------------------------------------------------------------------------


def transaction_digest(*, kind, idempotency_key, currency, order_id, reference, basis_amount, memo, posted_at,
                       created_by_id, entries):
    """SHA-256 of a transaction and its entries ``[(account_id, debit, credit), ...]``, canonically encoded.

    Amounts are encoded in integer minor units and the time in UTC microseconds, so the digest is the
    same whether computed before the insert or from the rows read back (SQLite or PostgreSQL).
    """
    posted = posted_at.astimezone(dt.timezone.utc) if posted_at else None
    payload = [
        "v1", kind, idempotency_key, currency, order_id, reference,
        None if basis_amount is None else to_minor(basis_amount, currency),
        memo, posted.isoformat(timespec="microseconds") if posted else None, created_by_id,
        sorted([account_id, to_minor(debit, currency), to_minor(credit, currency)]
               for account_id, debit, credit in entries),
    ]
    return hashlib.sha256(json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()).hexdigest()


# --- campaign goal and dashboard permissions -----------------------------------------------------------


class CampaignGoal(models.Model):
    """The optional fundraising goal shown on the public transparency page, one per currency.

    Also carries the fundraising dashboard's two permissions (a model is where Django keeps them):
    ``view_ledger`` reads every fundraising dashboard page and export; ``record_disbursement`` writes
    (disbursements, beneficiaries, share rules, the goal).
    """

    currency = models.CharField(_("currency"), max_length=3, unique=True)
    amount = models.DecimalField(_("goal amount"), **AMOUNT, validators=[MinValueValidator(0)])
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("campaign goal")
        permissions = [
            ("view_ledger", _("Can read the donation ledger, statements and exports")),
            ("record_disbursement", _("Can record disbursements and edit beneficiaries, share rules and the goal")),
        ]
        constraints = [models.CheckConstraint(condition=Q(amount__gte=0), name="campaign_goal_not_negative")]

    def __str__(self):
        return f"{self.amount} {self.currency}"
