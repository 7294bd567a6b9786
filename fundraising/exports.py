"""The ledger's exports, one place for ``export_ledger`` and the dashboard's downloads.

Each export is a generator of text chunks, read with ``iterator(chunk_size=...)`` (never the whole
ledger in memory): the command writes the chunks to stdout, the dashboard streams or joins them.
- ``entries_csv(entries)``: one row per entry of an ``Entry`` queryset (``CSV_COLUMNS``), in its order;
  ``ledger_csv`` is every entry, by transaction. (A transaction without entries, e.g. a sale whose
  donation is zero, has no row; the beancount export shows it.)
- ``breakdown_csv``: one row per order line and beneficiary (``BREAKDOWN_COLUMNS``; a line without
  parts has one row with the last two empty; fee_share, profit and donation are empty until the
  payment is captured).
- ``beancount``: a file that passes ``bean-check``: the accounts opened, one transaction per ledger
  transaction; with ``since``, an opening-balances transaction carries the earlier balances forward
  (checkpointed balances: ``selectors.debit_balances``).

``currency`` keeps one currency; ``since`` (an aware datetime) keeps what was posted (breakdowns:
snapshotted) at or after it. Text cells that a spreadsheet would evaluate (starting with
``= + - @``, a tab or a carriage return) get a leading apostrophe. Amount and id columns are left
alone: they are never negative, so never start with ``-``.
"""

import csv
import datetime as dt
from collections import defaultdict

from django.db.models import Min, Prefetch

from fundraising import selectors
from fundraising.models import Account, BreakdownPart, Entry, LedgerTransaction, OrderLineBreakdown
from fundraising.money import quantize

CHUNK = 2000

CSV_COLUMNS = [
    "posted_at", "transaction_id", "kind", "idempotency_key", "order_number", "account", "beneficiary",
    "currency", "debit", "credit", "memo",
]

BREAKDOWN_COLUMNS = [
    "order_number", "line_id", "sku", "quantity", "currency", "revenue_excl_tax", "unit_cost", "fee_share",
    "profit", "share_bps", "donation", "beneficiary", "beneficiary_amount",
]

BEANCOUNT_ROOTS = {
    Account.Kind.PAYABLE: "Liabilities:Payable",
    Account.Kind.RECEIVABLE: "Assets:Receivable",
    Account.Kind.DISBURSED: "Assets:Disbursed",
}
BEANCOUNT_DONATIONS = "Expenses:Donations"

_CSV_FIELDS = (
    "posted_at", "transaction_id", "transaction__kind", "transaction__idempotency_key",
    "transaction__order__number", "account__kind", "account__beneficiary__slug", "account__beneficiary__name",
    "currency", "debit", "credit", "transaction__memo",
)


def safe_cell(text):
    """A text cell a spreadsheet will not evaluate: formula-like values get a leading apostrophe."""
    text = "" if text is None else str(text)
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def money(amount, currency):
    return "" if amount is None else format(quantize(amount, currency), "f")


# --- csv ----------------------------------------------------------------------------------------------


class _Echo:
    """File-like object whose ``write`` returns the text, so ``csv.writer.writerow`` returns its line."""

    def write(self, value):
        return value


def _csv_lines(header, rows):
    writer = csv.writer(_Echo(), lineterminator="\n")
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)


def entry_csv_rows(entries, *, chunk_size=CHUNK):
    """The CSV rows (without the header) of an ``Entry`` queryset, in the queryset's order, streamed."""
    rows = entries.values_list(*_CSV_FIELDS)
    for (posted_at, txn_id, kind, key, number, account_kind, slug, name, cur, debit, credit, memo) in rows.iterator(
        chunk_size=chunk_size
    ):
        account = f"{account_kind}:{slug}" if slug else f"campaign:{account_kind}"
        yield [
            posted_at.astimezone(dt.timezone.utc).isoformat(), txn_id, safe_cell(kind), safe_cell(key),
            safe_cell(number), safe_cell(account), safe_cell(name), safe_cell(cur),
            money(debit, cur), money(credit, cur), safe_cell(memo),
        ]


def entries_csv(entries):
    """The CSV lines (header first) of an ``Entry`` queryset, in the queryset's order."""
    return _csv_lines(CSV_COLUMNS, entry_csv_rows(entries))


def ledger_csv(*, currency=None, since=None):
    """The CSV lines of every entry (of ``currency``, posted at or after ``since``), by transaction."""
    entries = Entry.objects.order_by("transaction_id", "id")
    if currency:
        entries = entries.filter(currency=currency)
    if since:
        entries = entries.filter(posted_at__gte=since)
    return entries_csv(entries)


def breakdown_csv(*, currency=None, since=None, orders=None, beneficiary=None):
    """The CSV lines of every order line's breakdown, one per line and beneficiary, by order and line.

    ``orders`` (ids, or a values queryset of them) keeps those orders' lines; ``beneficiary`` keeps that
    beneficiary's parts only (the dashboard's filtered download)."""
    parts = BreakdownPart.objects.select_related("beneficiary").order_by("beneficiary_id")
    if beneficiary is not None:
        parts = parts.filter(beneficiary=beneficiary)
    rows = (
        OrderLineBreakdown.objects.select_related("order", "line")
        .prefetch_related(Prefetch("parts", queryset=parts))
        .order_by("order_id", "line_id")
    )
    if currency:
        rows = rows.filter(currency=currency)
    if since:
        rows = rows.filter(snapshotted_at__gte=since)
    if orders is not None:
        rows = rows.filter(order_id__in=orders)
    if beneficiary is not None:
        rows = rows.filter(parts__beneficiary=beneficiary)
    return _csv_lines(BREAKDOWN_COLUMNS, _breakdown_rows(rows))


def _breakdown_rows(rows):
    for row in rows.iterator(chunk_size=CHUNK):
        cur = row.currency
        common = [
            safe_cell(row.order.number), row.line_id, safe_cell(row.line.partner_sku), row.quantity, safe_cell(cur),
            money(row.revenue_excl_tax, cur), money(row.unit_cost, cur), money(row.fee_share, cur),
            money(row.profit, cur), row.share_bps, money(row.donation, cur),
        ]
        parts = list(row.parts.all())
        if not parts:
            yield common + ["", ""]
        for part in parts:
            yield common + [safe_cell(part.beneficiary.name), money(part.amount, cur)]


# --- beancount ----------------------------------------------------------------------------------------


def beancount_account(kind, slug):
    if slug is None:
        return BEANCOUNT_DONATIONS
    component = "-".join(part.capitalize() for part in slug.split("-"))
    return f"{BEANCOUNT_ROOTS[kind]}:{component}"


def beancount_string(text):
    flat = " ".join(str(text).split())
    return '"' + flat.replace("\\", "\\\\").replace('"', '\\"') + '"'


def beancount(*, currency=None, since=None, transactions=None):
    """The beancount file, in chunks: options, the accounts opened, then one transaction per ledger
    transaction (of ``currency``, posted at or after ``since``, after the balances carried forward).

    ``transactions`` (ids, or a values queryset of them) keeps those transactions only, each whole (a
    beancount transaction must balance): the dashboard's download of the rows a filtered ledger shows."""
    accounts = Account.objects.select_related("beneficiary").annotate(first=Min("entries__posted_at"))
    if currency:
        accounts = accounts.filter(currency=currency)
    names = {}
    currency_of = {}
    opened = {}
    currencies = defaultdict(set)
    for account in accounts:
        if account.first is None:
            continue
        name = beancount_account(account.kind, account.beneficiary.slug if account.beneficiary_id else None)
        names[account.pk] = name
        currency_of[account.pk] = account.currency
        day = account.first.astimezone(dt.timezone.utc).date()
        if since:
            day = min(day, since.date())
        opened[name] = min(opened.get(name, day), day)
        currencies[name].add(account.currency)
    all_currencies = sorted({c for cs in currencies.values() for c in cs} | ({currency} if currency else set()))

    yield 'option "title" "P6 donation ledger"\n'
    for code in all_currencies:
        yield f'option "operating_currency" "{code}"\n'
    yield "\n"
    for name in sorted(opened):
        yield f"{opened[name].isoformat()} open {name} {','.join(sorted(currencies[name]))}\n"
    yield "\n"

    if since:
        yield from _opening_balances(since=since, names=names, currency_of=currency_of)

    rows = LedgerTransaction.objects.select_related("order").order_by("id").prefetch_related(
        Prefetch("entries", queryset=Entry.objects.order_by("id"))
    )
    if currency:
        rows = rows.filter(currency=currency)
    if since:
        rows = rows.filter(posted_at__gte=since)
    if transactions is not None:
        rows = rows.filter(id__in=transactions)
    for txn in rows.iterator(chunk_size=CHUNK):
        day = txn.posted_at.astimezone(dt.timezone.utc).date().isoformat()
        lines = [f"{day} * {beancount_string(txn.memo or txn.kind)}"]
        lines.append(f"  ledger-id: {txn.pk}")
        lines.append(f"  kind: {beancount_string(txn.kind)}")
        lines.append(f"  key: {beancount_string(txn.idempotency_key)}")
        if txn.order_id:
            lines.append(f"  order: {beancount_string(txn.order.number)}")
        for entry in txn.entries.all():
            amount = entry.debit if entry.debit else -entry.credit
            lines.append(f"  {names[entry.account_id]}  {money(amount, entry.currency)} {entry.currency}")
        yield "\n".join(lines) + "\n\n"


def _opening_balances(*, since, names, currency_of):
    """The balances before ``since`` of the exported accounts, as one transaction (none if all are zero)."""
    balances = selectors.debit_balances(accounts=names.keys(), before=since)
    postings = []
    for account_id in sorted(balances, key=lambda pk: (currency_of[pk], pk)):
        code = currency_of[account_id]
        balance = quantize(balances[account_id], code)
        if balance:
            postings.append(f"  {names[account_id]}  {money(balance, code)} {code}")
    if postings:
        # Double entry: the balances carried forward sum to zero per currency, so they balance by themselves.
        day = since.date().isoformat()
        yield f'{day} * "Opening balances carried forward from before {day}"\n'
        yield "\n".join(postings) + "\n\n"
