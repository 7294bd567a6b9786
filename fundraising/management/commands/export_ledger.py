"""Export the donation ledger to stdout, streamed: ``--format csv|beancount|breakdown-csv``.

The formats are ``fundraising.exports``' (``ledger_csv``, ``beancount``, ``breakdown_csv``), the same the
dashboard downloads: ``csv`` one row per entry (its ``source``: "online" for an order's transactions,
"partner" with the partner, store and report line for a partner report line's), ``breakdown-csv`` one row
per sale line and beneficiary (order lines, then partner report lines: a return's quantity and amounts
negative), ``beancount`` a file that passes ``bean-check`` (partner transactions with ``partner``, ``store``
and ``report-line`` metadata; with ``--since``, an opening-balances transaction carries the earlier balances
forward, from the checkpointed balances).

``--currency`` keeps one currency; ``--since YYYY-MM-DD`` keeps what was posted (order-line breakdowns:
snapshotted) on or after that day (UTC); ``--source online|partner`` (csv and breakdown-csv) keeps the
online sales' or the partners' rows only. Rows are read in chunks, never all at once; text cells that a
spreadsheet would run as formulas are prefixed with ``'``. Bad arguments: exit non-zero with one line
saying why. On a terminal, stderr shows the lines written so far (nothing when piped).
"""

import datetime as dt
import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from fundraising import exports
from fundraising.money import CurrencyError, normalise
from fundraising.progress import Progress

FORMATS = {"csv": exports.ledger_csv, "beancount": exports.beancount, "breakdown-csv": exports.breakdown_csv}


class _OneLineErrors(CommandParser):
    """Argument errors as one line (argparse prints the whole usage otherwise)."""

    def error(self, message):
        if self.called_from_command_line:
            sys.stderr.write(f"export_ledger: error: {message}\n")
            sys.exit(2)
        raise CommandError(f"Error: {message}")


class Command(BaseCommand):
    help = ("Stream the donation ledger to stdout as csv (one row per entry), breakdown-csv (one row per online or "
            "partner sale line and beneficiary) or beancount; partner report lines are included, marked as such.")

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.__class__ = _OneLineErrors
        return parser

    def add_arguments(self, parser):
        parser.add_argument("--format", required=True, choices=tuple(FORMATS), dest="fmt")
        parser.add_argument("--currency", help="ISO 4217 code; default: every currency")
        parser.add_argument("--since", help="YYYY-MM-DD (UTC): keep what was posted on or after that day")
        parser.add_argument("--source", choices=exports.SOURCES,
                            help="csv and breakdown-csv: keep the online sales' (orders) or the partners' rows only; "
                                 "default: both")

    def handle(self, *args, fmt, currency=None, since=None, source=None, **options):
        if source is not None and fmt == "beancount":
            raise CommandError("--source applies to csv and breakdown-csv: a beancount file is the whole ledger")
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
        progress = Progress(self.stderr, label=f"export_ledger: {fmt}", unit="lines").start()
        kwargs = {"source": source} if source is not None else {}
        for chunk in FORMATS[fmt](currency=currency, since=since_at, **kwargs):
            self.stdout.write(chunk, ending="")
            progress.step(chunk.count("\n"))
        progress.done()
