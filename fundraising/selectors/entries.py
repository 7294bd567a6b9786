"""What was posted over time: statements, the ledger's entries as staff filter and page them, payouts.

Dates are whole UTC days; datetimes must be aware. Every function returns lazy querysets or a fixed
number of queries, whatever the size of the ledger (keyset pagination, related rows joined).
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from fundraising.models import Account, Beneficiary, Disbursement, Entry, LedgerTransaction
from fundraising.money import normalise, quantize
from fundraising.selectors.balances import ZERO, account_balance

Kind = LedgerTransaction.Kind


@dataclass(frozen=True)
class Statement:
    """A beneficiary's payable account over ``[start, end)``.

    ``entries`` is a lazy queryset of the period's entries (oldest first, with their transactions);
    ``closing == opening + total_credit - total_debit``.
    """

    beneficiary: Beneficiary
    currency: str
    account: Account | None
    start: dt.datetime
    end: dt.datetime
    opening: Decimal
    total_debit: Decimal
    total_credit: Decimal
    closing: Decimal
    entries: object
    summary: list  # [StatementLine]: the period's debits and credits by kind of transaction, in Kind order


@dataclass(frozen=True)
class StatementLine:
    """A statement's debits and credits of one kind of transaction (online sales, partner sales, payouts...)."""

    kind: str
    label: str
    debit: Decimal
    credit: Decimal


def _instant(value, *, end):
    """A date means the whole day (UTC): as a start its midnight, as an end the next midnight."""
    if isinstance(value, dt.datetime):
        if timezone.is_naive(value):
            raise ValueError(f"{value} is a naive datetime: give an aware one or a date")
        return value
    if isinstance(value, dt.date):
        day = value + dt.timedelta(days=1) if end else value
        return dt.datetime.combine(day, dt.time.min, tzinfo=dt.timezone.utc)
    raise TypeError(f"expected a date or an aware datetime, not {type(value).__name__}")


def statement(*, beneficiary, currency, start, end):
    """The beneficiary's payable account from ``start`` to ``end``: opening, entries, closing.

    Dates are whole UTC days, both included; datetimes are the half-open interval ``[start, end)``.
    Raises ``ValueError`` if ``end`` is before ``start``, ``TypeError`` for other argument types.
    """
    currency = normalise(currency)
    start_at, end_at = _instant(start, end=False), _instant(end, end=True)
    if end_at < start_at:
        raise ValueError(f"the statement ends ({end}) before it starts ({start})")
    account = Account.objects.filter(
        kind=Account.Kind.PAYABLE, beneficiary=beneficiary, currency=currency
    ).first()
    zero = quantize(ZERO, currency)
    if account is None:
        return Statement(beneficiary, currency, None, start_at, end_at, zero, zero, zero, zero, Entry.objects.none(),
                         [])
    opening = account_balance(account=account, before=start_at)
    entries = (
        Entry.objects.filter(account=account, posted_at__gte=start_at, posted_at__lt=end_at)
        .select_related("transaction", "transaction__order", "transaction__partner_line",
                        "transaction__partner_line__partner")
        .order_by("posted_at", "id")
    )
    by_kind = {
        row["transaction__kind"]: (row["debit"], row["credit"])
        for row in entries.order_by().values("transaction__kind").annotate(debit=Sum("debit"), credit=Sum("credit"))
    }
    debit = quantize(sum((d for d, _ in by_kind.values()), ZERO), currency)
    credit = quantize(sum((c for _, c in by_kind.values()), ZERO), currency)
    summary = [
        StatementLine(kind, LedgerTransaction.Kind(kind).label, quantize(by_kind[kind][0], currency),
                      quantize(by_kind[kind][1], currency))
        for kind in LedgerTransaction.Kind.values if kind in by_kind
    ]
    return Statement(
        beneficiary=beneficiary,
        currency=currency,
        account=account,
        start=start_at,
        end=end_at,
        opening=opening,
        total_debit=debit,
        total_credit=credit,
        closing=quantize(opening + credit - debit, currency),
        entries=entries,
        summary=summary,
    )


@dataclass(frozen=True)
class EntryPage:
    """One page of ledger entries, newest first, and whether older or newer pages exist."""

    entries: list
    has_older: bool
    has_newer: bool


#: Where a ledger transaction comes from: this shop's orders (sales and their corrections) or partners' reports.
SOURCES = {
    "online": (Kind.SALE, Kind.REFUND, Kind.DISPUTE, Kind.RESTORATION),
    "partner": (Kind.PARTNER_SALE, Kind.PARTNER_RETURN),
}


def ledger_entries(*, beneficiary=None, kind="", currency="", date_from=None, date_to=None, order_number="",
                   source="", partner=None, store=""):
    """The ledger's entries matching the given filters (each optional), newest first, with what a row of
    the staff ledger shows joined in. ``date_from``/``date_to``: whole UTC days, both included;
    ``currency`` as normalised by the caller; ``order_number``: the order's number, surrounding spaces ignored;
    ``source``: a key of ``SOURCES`` ("online": this shop's orders; "partner": partners' sales reports);
    ``partner``: that partner's report lines; ``store``: report lines of that store (any partner, case and
    surrounding spaces ignored). Lazy: slice it, or page it with ``entry_page``."""
    entries = Entry.objects.select_related(
        "account", "account__beneficiary", "transaction", "transaction__order", "transaction__disbursement",
        "transaction__partner_line", "transaction__partner_line__partner",
    ).order_by("-id")
    if source:
        entries = entries.filter(transaction__kind__in=SOURCES[source])
    if partner:
        entries = entries.filter(transaction__partner_line__partner=partner)
    if store and store.strip():
        entries = entries.filter(transaction__partner_line__store__iexact=store.strip())
    if beneficiary:
        entries = entries.filter(account__beneficiary=beneficiary)
    if kind:
        entries = entries.filter(transaction__kind=kind)
    if currency:
        entries = entries.filter(currency=currency)
    if date_from:
        entries = entries.filter(posted_at__gte=_instant(date_from, end=False))
    if date_to:
        entries = entries.filter(posted_at__lt=_instant(date_to, end=True))
    if order_number:
        entries = entries.filter(transaction__order__number=order_number.strip())
    return entries


def entry_page(*, entries, size, after=None, before=None):
    """The ``EntryPage`` of ``size`` entries of a newest-first ``entries`` queryset, keyset-paginated on
    the entry id: older than the id ``after``, or newer than the id ``before`` (which wins), or the
    newest. One query, whatever the size of the ledger."""
    if before is not None:
        page = list(entries.filter(id__gt=before).order_by("id")[: size + 1])
        return EntryPage(entries=list(reversed(page[:size])), has_older=True, has_newer=len(page) > size)
    if after is not None:
        entries = entries.filter(id__lt=after)
    page = list(entries[: size + 1])
    return EntryPage(entries=page[:size], has_older=len(page) > size, has_newer=after is not None)


@dataclass(frozen=True)
class EntryTotals:
    """The sums of some ledger rows in one currency: ``net = debit - credit`` (never across currencies)."""

    currency: str
    count: int
    debit: Decimal
    credit: Decimal
    net: Decimal


def entry_totals(entries):
    """``[EntryTotals, ...]`` by currency of an ``Entry`` queryset (every row it holds, not one page): one query."""
    rows = (
        entries.order_by().values("currency")
        .annotate(n=Count("id"), debit=Sum("debit"), credit=Sum("credit")).order_by("currency")
    )
    out = []
    for row in rows:
        code = row["currency"]
        debit, credit = quantize(row["debit"] or ZERO, code), quantize(row["credit"] or ZERO, code)
        out.append(EntryTotals(code, row["n"], debit, credit, quantize(debit - credit, code)))
    return out


def donations_per_day(*, currency, start):
    """``{day: amount}``: what sales (online and partners') credited to the beneficiaries' payables in ``currency``
    per UTC day, from the date ``start`` on (days without sales left out)."""
    rows = (
        Entry.objects.filter(
            currency=currency, account__kind=Account.Kind.PAYABLE,
            transaction__kind__in=[LedgerTransaction.Kind.SALE, LedgerTransaction.Kind.PARTNER_SALE],
            posted_at__gte=_instant(start, end=False),
        )
        .annotate(day=TruncDate("posted_at", tzinfo=dt.timezone.utc))
        .values("day").annotate(amount=Sum("credit")).order_by("day")
    )
    return {row["day"]: quantize(row["amount"], currency) for row in rows}


def disbursements():
    """Every payout, latest paid first, with its beneficiary, author and transaction joined in."""
    return Disbursement.objects.select_related("beneficiary", "created_by", "transaction").order_by("-paid_on", "-id")
