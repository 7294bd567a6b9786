"""Export the donation ledger to stdout, streamed: ``--format csv|beancount|breakdown-csv``.

- ``csv``: one row per entry: posted_at, transaction_id, kind, idempotency_key, order_number, account,
  beneficiary, currency, debit, credit, memo. (A transaction without entries, e.g. a sale whose
  donation is zero, has no row; the beancount export shows it.)
- ``breakdown-csv``: one row per order line and beneficiary: order_number, line_id, sku, quantity,
  currency, revenue_excl_tax, unit_cost, fee_share, profit, share_bps, donation, beneficiary,
  beneficiary_amount (a line without parts has one row with the last two empty; fee_share, profit and
  donation are empty until the payment is captured).
- ``beancount``: a file that passes ``bean-check``: the accounts opened, one transaction per ledger
  transaction; with ``--since``, an opening-balances transaction carries the earlier balances forward.

``--currency`` keeps one currency; ``--since YYYY-MM-DD`` keeps what was posted (breakdowns:
snapshotted) on or after that day (UTC). Rows are read with ``iterator(chunk_size=...)``, never all at
once. Text cells starting with ``= + - @`` (or a tab or carriage return) are prefixed with ``'`` so a
spreadsheet does not run them as formulas; amount and id columns are left alone (they are never
negative, so never start with ``-``). Bad arguments: exit non-zero with one line saying why.
"""

import csv
import datetime as dt
import sys
from collections import defaultdict

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Min, Prefetch, Sum

from fundraising.exports import CHUNK, CSV_COLUMNS, entry_csv_rows, money, safe_cell
from fundraising.models import Account, BreakdownPart, Entry, LedgerTransaction, OrderLineBreakdown
from shop.currency import CurrencyError, normalise, quantize

BREAKDOWN_COLUMNS = [
    "order_number", "line_id", "sku", "quantity", "currency", "revenue_excl_tax", "unit_cost", "fee_share",
    "profit", "share_bps", "donation", "beneficiary", "beneficiary_amount",
]
FORMATS = ("csv", "beancount", "breakdown-csv")

BEANCOUNT_ROOTS = {
    Account.Kind.PAYABLE: "Liabilities:Payable",
    Account.Kind.RECEIVABLE: "Assets:Receivable",
    Account.Kind.DISBURSED: "Assets:Disbursed",
}
BEANCOUNT_DONATIONS = "Expenses:Donations"


def beancount_account(kind, slug):
    if slug is None:
        return BEANCOUNT_DONATIONS
    component = "-".join(part.capitalize() for part in slug.split("-"))
    return f"{BEANCOUNT_ROOTS[kind]}:{component}"


def beancount_string(text):
    flat = " ".join(str(text).split())
    return '"' + flat.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _OneLineErrors(CommandParser):
    """Argument errors as one line (argparse prints the whole usage otherwise)."""

    def error(self, message):
        if self.called_from_command_line:
            sys.stderr.write(f"export_ledger: error: {message}\n")
            sys.exit(2)
        raise CommandError(f"Error: {message}")


class _Out:
    """File-like adapter so csv.writer writes straight through the command's stdout."""

    def __init__(self, stdout):
        self.stdout = stdout

    def write(self, text):
        self.stdout.write(text, ending="")


class Command(BaseCommand):
    help = "Stream the donation ledger to stdout as csv, beancount or breakdown-csv."

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.__class__ = _OneLineErrors
        return parser

    def add_arguments(self, parser):
        parser.add_argument("--format", required=True, choices=FORMATS, dest="fmt")
        parser.add_argument("--currency", help="ISO 4217 code; default: every currency")
        parser.add_argument("--since", help="YYYY-MM-DD (UTC): keep what was posted on or after that day")

    def handle(self, *args, fmt, currency=None, since=None, **options):
        if currency is not None:
            try:
                currency = normalise(currency)
            except CurrencyError:
                raise CommandError(f"--currency must be an ISO 4217 code such as USD, not {currency!r}") from None
        since_at = None
        if since is not None:
            try:
                day = dt.date.fromisoformat(since)
            except ValueError:
                raise CommandError(f"--since must be a date as YYYY-MM-DD, not {since!r}") from None
            since_at = dt.datetime.combine(day, dt.time.min, tzinfo=dt.timezone.utc)
        out = _Out(self.stdout)
        if fmt == "csv":
            self.write_csv(out, currency, since_at)
        elif fmt == "breakdown-csv":
            self.write_breakdown_csv(out, currency, since_at)
        else:
            self.write_beancount(out, currency, since_at)

    # --- csv -----------------------------------------------------------------------------------------

    def write_csv(self, out, currency, since_at):
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        entries = Entry.objects.order_by("transaction_id", "id")
        if currency:
            entries = entries.filter(currency=currency)
        if since_at:
            entries = entries.filter(posted_at__gte=since_at)
        for row in entry_csv_rows(entries):
            writer.writerow(row)

    # --- breakdown csv -------------------------------------------------------------------------------

    def write_breakdown_csv(self, out, currency, since_at):
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(BREAKDOWN_COLUMNS)
        rows = (
            OrderLineBreakdown.objects.select_related("order", "line")
            .prefetch_related(
                Prefetch("parts", queryset=BreakdownPart.objects.select_related("beneficiary").order_by("beneficiary_id"))
            )
            .order_by("order_id", "line_id")
        )
        if currency:
            rows = rows.filter(currency=currency)
        if since_at:
            rows = rows.filter(snapshotted_at__gte=since_at)
        for row in rows.iterator(chunk_size=CHUNK):
            cur = row.currency
            common = [
                safe_cell(row.order.number), row.line_id, safe_cell(row.line.partner_sku), row.quantity, safe_cell(cur),
                money(row.revenue_excl_tax, cur), money(row.unit_cost, cur), money(row.fee_share, cur),
                money(row.profit, cur), row.share_bps, money(row.donation, cur),
            ]
            parts = list(row.parts.all())
            if not parts:
                writer.writerow(common + ["", ""])
            for part in parts:
                writer.writerow(common + [safe_cell(part.beneficiary.name), money(part.amount, cur)])

    # --- beancount -----------------------------------------------------------------------------------

    def write_beancount(self, out, currency, since_at):
        accounts = Account.objects.select_related("beneficiary").annotate(first=Min("entries__posted_at"))
        if currency:
            accounts = accounts.filter(currency=currency)
        names = {}
        opened = {}
        currencies = defaultdict(set)
        for account in accounts:
            if account.first is None:
                continue
            name = beancount_account(account.kind, account.beneficiary.slug if account.beneficiary_id else None)
            names[account.pk] = name
            day = account.first.astimezone(dt.timezone.utc).date()
            if since_at:
                day = min(day, since_at.date())
            opened[name] = min(opened.get(name, day), day)
            currencies[name].add(account.currency)
        all_currencies = sorted({c for cs in currencies.values() for c in cs} | ({currency} if currency else set()))

        out.write('option "title" "P6 donation ledger"\n')
        for code in all_currencies:
            out.write(f'option "operating_currency" "{code}"\n')
        out.write("\n")
        for name in sorted(opened):
            out.write(f"{opened[name].isoformat()} open {name} {','.join(sorted(currencies[name]))}\n")
        out.write("\n")

        if since_at:
            self.write_opening_balances(out, since_at, currency, names)

        transactions = LedgerTransaction.objects.select_related("order").order_by("id").prefetch_related(
            Prefetch("entries", queryset=Entry.objects.order_by("id"))
        )
        if currency:
            transactions = transactions.filter(currency=currency)
        if since_at:
            transactions = transactions.filter(posted_at__gte=since_at)
        for txn in transactions.iterator(chunk_size=CHUNK):
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
            out.write("\n".join(lines) + "\n\n")

    def write_opening_balances(self, out, since_at, currency, names):
        earlier = Entry.objects.filter(posted_at__lt=since_at)
        if currency:
            earlier = earlier.filter(currency=currency)
        totals = earlier.values("account_id", "currency").annotate(debit=Sum("debit"), credit=Sum("credit")).order_by(
            "currency", "account_id"
        )
        postings = []
        for row in totals:
            balance = quantize(row["debit"] - row["credit"], row["currency"])
            if balance:
                postings.append(f"  {names[row['account_id']]}  {money(balance, row['currency'])} {row['currency']}")
        if postings:
            # Double entry: the balances carried forward sum to zero per currency, so they balance by themselves.
            out.write(f'{since_at.date().isoformat()} * "Opening balances carried forward from before '
                      f'{since_at.date().isoformat()}"\n')
            out.write("\n".join(postings) + "\n\n")
