"""Record a check of the ledger's invariants (the daily job; `verify_ledger` prints the same checks)."""

from fundraising.models import LedgerTransaction, LedgerVerification
from fundraising.verification import ledger_violations

KEPT = 200  # violation lines stored; the count is always exact


def record_verification():
    """Run every invariant check and store the outcome; returns the LedgerVerification (its
    `violations` are the first KEPT lines, `violation_count` all of them)."""
    lines, count = [], 0
    for violation in ledger_violations():
        count += 1
        if count <= KEPT:
            lines.append(violation)
    return LedgerVerification.objects.create(transactions=LedgerTransaction.objects.count(), violation_count=count,
                                             violations="\n".join(lines))
