"""The ledger's exports, one place for ``export_ledger`` and the dashboard's downloads.

Each export is a generator of text chunks, read with ``iterator(chunk_size=...)`` (never the whole
ledger in memory): the command writes the chunks to stdout, the dashboard streams or joins them.
- ``entries_csv(entries)``: one row per entry of an ``Entry`` queryset (``CSV_COLUMNS``), in its order;
  ``ledger_csv`` is every entry, by transaction. (A transaction without entries, e.g. a sale whose
  donation is zero, has no row; the beancount export shows it.) The last four columns say where a
  transaction came from: ``source`` "online" (a transaction of an order: sale, refund, dispute...),
  "partner" (a partner report line's sale or return: ``partner`` its slug, ``store``, ``report_line``
  the partner's line id) or empty (payouts, adjustments).
- ``breakdown_csv``: one row per sale line and beneficiary (``BREAKDOWN_COLUMNS``; a line without
  parts has one row with ``beneficiary`` and ``beneficiary_amount`` empty): the order lines first
  (``source`` "online", ``sold_on`` the day the order was placed, UTC; fee_share, profit and donation
  are empty until the payment is captured), then the partners' report lines (``source`` "partner":
  ``order_number`` empty, ``line_id`` the partner's line id, ``fee_share`` the line's fee, ``partner``,
  ``store``, ``sold_on`` as reported, ``report`` the import's id and ``report_file`` its file name). A
  partner return has a negative ``quantity``, ``revenue_excl_tax``, ``donation`` and
  ``beneficiary_amount``: the revenue returned and the donation it reversed (its profit is 0).
- ``beancount``: a file that passes ``bean-check``: the accounts opened, one transaction per ledger
  transaction (an order's with ``order`` metadata, a partner line's with ``partner``, ``store`` and
  ``report-line``); with ``since``, an opening-balances transaction carries the earlier balances
  forward (checkpointed balances: ``selectors.debit_balances``).

``currency`` keeps one currency; ``since`` (an aware datetime) keeps what was posted (breakdowns: an
order line snapshotted, a partner line's transaction posted) at or after it; ``source`` ("online" or
"partner", CSVs only) keeps one origin. Text cells that a spreadsheet would evaluate (starting with
``= + - @``, a tab or a carriage return) get a leading apostrophe (store names and report file names
come from partners' files). Amount and id columns are left alone: a number is never read as a
formula, and only a partner return's amounts in the breakdown are negative.
"""

import csv
import datetime as dt
from collections import defaultdict

from django.db.models import Min, Prefetch

from fundraising import selectors
from fundraising.models import (
    Account, BreakdownPart, Entry, LedgerTransaction, OrderLineBreakdown, PartnerSaleLine, PartnerSaleLinePart,
)
from fundraising.money import quantize

CHUNK = 2000

CSV_COLUMNS = [
    "posted_at", "transaction_id", "kind", "idempotency_key", "order_number", "account", "beneficiary",
    "currency", "debit", "credit", "memo", "source", "partner", "store", "report_line",
]

BREAKDOWN_COLUMNS = [
    "order_number", "line_id", "sku", "quantity", "currency", "revenue_excl_tax", "unit_cost", "fee_share",
    "profit", "share_bps", "donation", "beneficiary", "beneficiary_amount", "source", "partner", "store", "sold_on",
    "report", "report_file",
]

#: ``source`` values: an order's transaction (sale, refund, dispute...), a partner report line's.
ONLINE, PARTNER = "online", "partner"
SOURCES = (ONLINE, PARTNER)

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
    "transaction__partner_line__partner__slug", "transaction__partner_line__store",
    "transaction__partner_line__line_id",
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
    for (posted_at, txn_id, kind, key, number, account_kind, slug, name, cur, debit, credit, memo,
         partner, store, report_line) in rows.iterator(chunk_size=chunk_size):
        account = f"{account_kind}:{slug}" if slug else f"campaign:{account_kind}"
        source = PARTNER if partner or kind in LedgerTransaction.PARTNER_KINDS else ONLINE if number else ""
        yield [
            posted_at.astimezone(dt.timezone.utc).isoformat(), txn_id, safe_cell(kind), safe_cell(key),
            safe_cell(number), safe_cell(account), safe_cell(name), safe_cell(cur),
            money(debit, cur), money(credit, cur), safe_cell(memo),
            source, safe_cell(partner), safe_cell(store), safe_cell(report_line),
        ]


def entries_csv(entries):
    """The CSV lines (header first) of an ``Entry`` queryset, in the queryset's order."""
    return _csv_lines(CSV_COLUMNS, entry_csv_rows(entries))


def _check_source(source):
    if source is not None and source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")


def ledger_csv(*, currency=None, since=None, source=None):
    """The CSV lines of every entry (of ``currency``, posted at or after ``since``, of ``source``: "online" the
    transactions of an order, "partner" those of a partner's report lines), by transaction."""
    _check_source(source)
    entries = Entry.objects.order_by("transaction_id", "id")
    if currency:
        entries = entries.filter(currency=currency)
    if since:
        entries = entries.filter(posted_at__gte=since)
    if source == ONLINE:
        entries = entries.filter(transaction__order__isnull=False)
    elif source == PARTNER:
        entries = entries.filter(transaction__kind__in=LedgerTransaction.PARTNER_KINDS)
    return entries_csv(entries)


def breakdown_csv(*, currency=None, since=None, orders=None, partner_lines=None, beneficiary=None, source=None):
    """The CSV lines of every sale line's breakdown, one per line and beneficiary: the order lines by order and
    line, then the partners' report lines by partner and id.

    ``orders`` (ids, or a values queryset of them) and ``partner_lines`` (``PartnerSaleLine`` ids, or a values
    queryset of them): when either is given, only those orders' lines and those partner lines are exported (none of
    a kind whose argument is not given); when neither is, every line. ``beneficiary`` keeps that beneficiary's parts
    only (the dashboard's filtered download); ``source`` ("online" or "partner") keeps one kind of line."""
    _check_source(source)
    online = partner = True
    if orders is not None or partner_lines is not None:
        online, partner = orders is not None, partner_lines is not None
    if source == ONLINE:
        partner = False
    elif source == PARTNER:
        online = False

    def rows():
        if online:
            yield from _breakdown_rows(_online_lines(currency=currency, since=since, orders=orders,
                                                     beneficiary=beneficiary))
        if partner:
            yield from _partner_breakdown_rows(_partner_lines(currency=currency, since=since, ids=partner_lines,
                                                              beneficiary=beneficiary))

    return _csv_lines(BREAKDOWN_COLUMNS, rows())


def _online_lines(*, currency, since, orders, beneficiary):
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
    return rows


def _partner_lines(*, currency, since, ids, beneficiary):
    parts = PartnerSaleLinePart.objects.select_related("beneficiary").order_by("beneficiary_id")
    if beneficiary is not None:
        parts = parts.filter(beneficiary=beneficiary)
    rows = (
        PartnerSaleLine.objects.select_related("partner", "report")
        .prefetch_related(Prefetch("parts", queryset=parts))
        .order_by("partner_id", "id")
    )
    if currency:
        rows = rows.filter(currency=currency)
    if since:
        rows = rows.filter(transaction__posted_at__gte=since)
    if ids is not None:
        rows = rows.filter(id__in=ids)
    if beneficiary is not None:
        rows = rows.filter(parts__beneficiary=beneficiary)
    return rows


def _breakdown_rows(rows):
    for row in rows.iterator(chunk_size=CHUNK):
        cur = row.currency
        common = [
            safe_cell(row.order.number), row.line_id, safe_cell(row.line.partner_sku), row.quantity, safe_cell(cur),
            money(row.revenue_excl_tax, cur), money(row.unit_cost, cur), money(row.fee_share, cur),
            money(row.profit, cur), row.share_bps, money(row.donation, cur),
        ]
        placed = row.order.date_placed
        tail = [ONLINE, "", "", placed.astimezone(dt.timezone.utc).date().isoformat() if placed else "", "", ""]
        parts = list(row.parts.all())
        if not parts:
            yield common + ["", ""] + tail
        for part in parts:
            yield common + [safe_cell(part.beneficiary.name), money(part.amount, cur)] + tail


def _signed(amount, sign):
    """``amount`` times ``sign`` (1 or -1), never a negative zero ("-0.00")."""
    return -amount if sign < 0 and amount else amount


def _partner_breakdown_rows(rows):
    """A return's revenue, donation and parts are stored as positive amounts (what was returned and reversed);
    here they are negative, like its quantity, so a sum over a column nets sales and returns."""
    for line in rows.iterator(chunk_size=CHUNK):
        cur = line.currency
        sign = -1 if line.quantity < 0 else 1
        common = [
            "", safe_cell(line.line_id), safe_cell(line.sku), line.quantity, safe_cell(cur),
            money(_signed(line.revenue, sign), cur), money(line.unit_cost, cur), money(line.fee, cur),
            money(line.profit, cur), line.share_bps, money(_signed(line.donation, sign), cur),
        ]
        tail = [PARTNER, safe_cell(line.partner.slug), safe_cell(line.store), line.sold_on.isoformat(),
                line.report_id, safe_cell(line.report.file_name)]
        parts = list(line.parts.all())
        if not parts:
            yield common + ["", ""] + tail
        for part in parts:
            yield common + [safe_cell(part.beneficiary.name), money(_signed(part.amount, sign), cur)] + tail


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

    rows = LedgerTransaction.objects.select_related("order", "partner_line__partner").order_by("id").prefetch_related(
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
        line = getattr(txn, "partner_line", None) if txn.kind in LedgerTransaction.PARTNER_KINDS else None
        if line is not None:
            lines.append(f"  partner: {beancount_string(line.partner.slug)}")
            lines.append(f"  store: {beancount_string(line.store)}")
            lines.append(f"  report-line: {beancount_string(line.line_id)}")
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
