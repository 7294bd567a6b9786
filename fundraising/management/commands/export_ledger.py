"""Export the donation ledger to stdout, streamed: ``--format csv|beancount|breakdown-csv``.

The formats are ``fundraising.exports``' (``ledger_csv``, ``beancount``, ``breakdown_csv``), the same the
dashboard downloads: ``csv`` one row per entry, ``breakdown-csv`` one row per order line and
beneficiary, ``beancount`` a file that passes ``bean-check`` (with ``--since``, an opening-balances
transaction carries the earlier balances forward, from the checkpointed balances).

``--currency`` keeps one currency; ``--since YYYY-MM-DD`` keeps what was posted (breakdowns:
snapshotted) on or after that day (UTC). Rows are read in chunks, never all at once; text cells that a
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
    help = "Stream the donation ledger to stdout as csv, beancount or breakdown-csv."

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.__class__ = _OneLineErrors
        return parser

    def add_arguments(self, parser):
        parser.add_argument("--format", required=True, choices=tuple(FORMATS), dest="fmt")
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
        progress = Progress(self.stderr, label=f"export_ledger: {fmt}", unit="lines").start()
        for chunk in FORMATS[fmt](currency=currency, since=since_at):
            self.stdout.write(chunk, ending="")
            progress.step(chunk.count("\n"))
        progress.done()
