"""The outcome of each scheduled check of the ledger's invariants (verify_ledger), shown to staff."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class LedgerVerification(models.Model):
    """One run of `fundraising.verification.ledger_violations`: when, how many violations, which (the
    first 200 lines). Written by the daily job; the fundraising overview shows the latest when it failed."""

    checked_at = models.DateTimeField(_("checked at"), auto_now_add=True)
    transactions = models.PositiveIntegerField(_("transactions checked"), default=0)
    violation_count = models.PositiveIntegerField(_("violations"), default=0)
    violations = models.TextField(_("violations (first 200)"), blank=True)

    class Meta:
        ordering = ["-checked_at", "-pk"]
        get_latest_by = "checked_at"

    def __str__(self):
        return f"ledger check {self.checked_at:%Y-%m-%d %H:%M}: {self.violation_count} violation(s)"

    @property
    def clean(self):
        return self.violation_count == 0
