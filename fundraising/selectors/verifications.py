"""The latest scheduled check of the ledger's invariants."""

from fundraising.models import LedgerVerification


def latest_verification():
    """The most recent LedgerVerification, or None when the job has never run."""
    return LedgerVerification.objects.order_by("-checked_at", "-pk").first()
