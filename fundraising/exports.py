"""Rows of the ledger exports, shared by ``export_ledger`` and the dashboard's CSV download.

One CSV row per entry (``CSV_COLUMNS``); text cells that a spreadsheet would evaluate (starting with
``= + - @``, a tab or a carriage return) get a leading apostrophe. Amount and id columns are left
alone: they are never negative, so never start with ``-``.
"""

import datetime as dt

from shop.currency import quantize

CHUNK = 2000

CSV_COLUMNS = [
    "posted_at", "transaction_id", "kind", "idempotency_key", "order_number", "account", "beneficiary",
    "currency", "debit", "credit", "memo",
]

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
