"""Balances: the latest checkpoint plus the entries after it (services write, selectors read).

Balances come from the latest ``BalanceCheckpoint`` (cumulative totals per account and transaction kind
of every entry up to an id) plus the entries after it, summed through the (account, id) index. Nothing
here locks or writes; services call these under their own locks when they need a balance to check.
"""

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, Sum
from django.utils import timezone

from fundraising.models import Account, BalanceCheckpoint, Beneficiary, CheckpointTotal, Entry, LedgerTransaction
from fundraising.money import normalise, quantize

Kind = LedgerTransaction.Kind
ZERO = Decimal(0)


@dataclass(frozen=True)
class BeneficiaryBalance:
    """A beneficiary's position in one currency.

    ``earned``: sale credits to its payable; ``reversed``: refund and dispute debits (from the payable,
    and from the receivable when the payable could not absorb them); ``disbursed``: paid out;
    ``adjusted``: net staff adjustments of the payable (credit positive); ``payable``: what the
    campaign owes it now (never negative); ``receivable``: reversals it was already paid for.
    Identity: ``payable - receivable == earned - reversed - disbursed + adjusted`` as long as no
    adjustment touched the receivable (staff netting it against the payable).

    ``earned_partner`` and ``reversed_partner`` are the parts of ``earned`` and ``reversed`` that partners' sales
    reports posted (partner sales and returns); the rest (``earned_online``, ``reversed_online``) is this shop's.
    """

    beneficiary: Beneficiary
    currency: str
    earned: Decimal
    reversed: Decimal
    disbursed: Decimal
    adjusted: Decimal
    payable: Decimal
    receivable: Decimal
    earned_partner: Decimal = ZERO
    reversed_partner: Decimal = ZERO

    @property
    def earned_online(self):
        return self.earned - self.earned_partner

    @property
    def reversed_online(self):
        return self.reversed - self.reversed_partner


FIGURES = ("earned", "reversed", "disbursed", "adjusted", "payable", "receivable", "earned_partner",
           "reversed_partner")


def totals_by_account_and_kind(*, accounts, before=None):
    """``{(account_id, kind): [debit, credit]}`` over the given account ids, exactly.

    ``before``: only entries posted before that instant (opening balances). The cost is a walk over
    the entries between a checkpoint and the instant wanted, never the whole ledger when checkpoints
    are taken regularly: now = latest checkpoint + the entries after it; before an instant = either
    forward from the latest checkpoint whose entries all precede it, or backward from now
    (subtracting the entries posted since), whichever spans less time. Both are exact.
    """
    account_ids = list(accounts)
    totals = defaultdict(lambda: [ZERO, ZERO])
    if not account_ids:
        return totals
    latest = BalanceCheckpoint.objects.order_by("-upto_entry_id").first()
    if before is None:
        return _forward(totals, account_ids, latest, None)
    eligible = (
        BalanceCheckpoint.objects.filter(Q(max_posted_at__lt=before) | Q(max_posted_at__isnull=True))
        .order_by("-upto_entry_id")
        .first()
    )
    backward = latest is not None and (
        eligible is None
        or (eligible.max_posted_at is not None and timezone.now() - before < before - eligible.max_posted_at)
    )
    if not backward:
        return _forward(totals, account_ids, eligible, before)
    _forward(totals, account_ids, latest, None)
    for row in (
        Entry.objects.filter(account_id__in=account_ids, posted_at__gte=before)
        .values("account_id", "transaction__kind")
        .annotate(debit=Sum("debit"), credit=Sum("credit"))
        .order_by()
    ):
        total = totals[(row["account_id"], row["transaction__kind"])]
        total[0] -= row["debit"]
        total[1] -= row["credit"]
    return totals


def _forward(totals, account_ids, checkpoint, before):
    """Add the checkpoint's totals and the entries after it (posted before ``before``, if given)."""
    upto = 0
    if checkpoint is not None:
        upto = checkpoint.upto_entry_id
        for row in CheckpointTotal.objects.filter(checkpoint=checkpoint, account_id__in=account_ids).values(
            "account_id", "kind", "debit", "credit"
        ):
            total = totals[(row["account_id"], row["kind"])]
            total[0] += row["debit"]
            total[1] += row["credit"]
    since = Entry.objects.filter(account_id__in=account_ids, id__gt=upto)
    if before is not None:
        since = since.filter(posted_at__lt=before)
    for row in (
        since.values("account_id", "transaction__kind")
        .annotate(debit=Sum("debit"), credit=Sum("credit"))
        .order_by()
    ):
        total = totals[(row["account_id"], row["transaction__kind"])]
        total[0] += row["debit"]
        total[1] += row["credit"]
    return totals


def account_balance(*, account, before=None):
    """The account's balance on its normal side (credits - debits for payable/disbursed accounts)."""
    debit = credit = ZERO
    for (_, _kind), (d, c) in totals_by_account_and_kind(accounts=[account.pk], before=before).items():
        debit += d
        credit += c
    balance = credit - debit if account.kind in Account.CREDIT_NORMAL else debit - credit
    return quantize(balance, account.currency)


def beneficiary_balances(*, currency):
    """Every beneficiary's ``BeneficiaryBalance`` in ``currency``, by name (zeros for those without entries)."""
    currency = normalise(currency)
    accounts = {
        account.pk: account
        for account in Account.objects.filter(currency=currency, beneficiary__isnull=False)
    }
    totals = totals_by_account_and_kind(accounts=accounts.keys())
    figures = defaultdict(lambda: defaultdict(lambda: ZERO))
    for (account_id, kind), (debit, credit) in totals.items():
        account = accounts[account_id]
        mine = figures[account.beneficiary_id]
        if account.kind == Account.Kind.PAYABLE:
            mine["payable"] += credit - debit
            if kind in (Kind.SALE, Kind.PARTNER_SALE):
                mine["earned"] += credit - debit
                if kind == Kind.PARTNER_SALE:
                    mine["earned_partner"] += credit - debit
            elif kind in LedgerTransaction.CORRECTION_KINDS or kind == Kind.PARTNER_RETURN:
                mine["reversed"] += debit - credit
                if kind == Kind.PARTNER_RETURN:
                    mine["reversed_partner"] += debit - credit
            elif kind == Kind.DISBURSEMENT:
                mine["disbursed"] += debit - credit
            elif kind == Kind.ADJUSTMENT:
                mine["adjusted"] += credit - debit
        elif account.kind == Account.Kind.RECEIVABLE:
            mine["receivable"] += debit - credit
            if kind in LedgerTransaction.CORRECTION_KINDS or kind == Kind.PARTNER_RETURN:
                mine["reversed"] += debit - credit
                if kind == Kind.PARTNER_RETURN:
                    mine["reversed_partner"] += debit - credit
    result = []
    for beneficiary in Beneficiary.objects.order_by("name"):
        mine = figures.get(beneficiary.pk, {})
        result.append(
            BeneficiaryBalance(
                beneficiary=beneficiary,
                currency=currency,
                **{
                    name: quantize(mine.get(name, ZERO), currency) for name in FIGURES
                },
            )
        )
    return result


def debit_balances(*, accounts, before=None):
    """``{account id: debits - credits}`` over the given account ids, exactly, from the checkpoints
    (``totals_by_account_and_kind``); ``before``: of the entries posted before that instant. Accounts
    without entries before it are left out."""
    balances = defaultdict(lambda: ZERO)
    for (account_id, _kind), (debit, credit) in totals_by_account_and_kind(accounts=accounts, before=before).items():
        balances[account_id] += debit - credit
    return dict(balances)


def ledger_currencies(*, including=()):
    """Every currency that has a ledger account, with those in ``including``, sorted (one query)."""
    return sorted(set(Account.objects.values_list("currency", flat=True).distinct()) | set(including))
