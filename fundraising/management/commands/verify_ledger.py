"""Check every invariant of the donation ledger (DESIGN "The ledger"): exit 0 when clean.

Otherwise print one line per violation and exit 1. The checks live in ``fundraising.verification``
so that the tests run exactly the same ones. On a terminal, stderr shows the violations found so far
(nothing when piped).
"""

import sys

from django.core.management.base import BaseCommand

from fundraising.models import Entry, LedgerTransaction
from fundraising.progress import Progress
from fundraising.verification import ledger_violations


class Command(BaseCommand):
    help = "Check the donation ledger's invariants; exit 1 with one line per violation, 0 when clean."

    def handle(self, *args, **options):
        count = 0
        progress = Progress(self.stderr, label="verify_ledger: checking, violations so far").start()
        for violation in ledger_violations():
            count += 1
            progress.step()
            self.stdout.write(violation)
        progress.done()
        if count:
            self.stderr.write(f"verify_ledger: {count} violation(s)")
            sys.exit(1)
        self.stdout.write(
            f"ledger OK: {LedgerTransaction.objects.count()} transactions, {Entry.objects.count()} entries"
        )
