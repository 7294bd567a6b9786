"""Balance checkpoints: cumulative totals per (account, kind), so a balance never sums the whole ledger."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from fundraising.models.common import AMOUNT
from fundraising.models.ledger import Account, LedgerTransaction


class BalanceCheckpoint(models.Model):
    """Cumulative totals of every entry with ``id <= upto_entry_id`` (derived data, rebuildable).

    Taken by ``services.take_balance_checkpoint`` only once no entry with a lower id can still commit,
    so "checkpoint + entries with a higher id" is exact. ``max_posted_at`` lets a statement start from
    the latest checkpoint whose entries all precede the period.
    """

    upto_entry_id = models.BigIntegerField(_("up to entry id"), unique=True)
    max_posted_at = models.DateTimeField(_("latest posted_at covered"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-upto_entry_id"]
        get_latest_by = "upto_entry_id"

    def __str__(self):
        return f"checkpoint up to entry {self.upto_entry_id}"


class CheckpointTotal(models.Model):
    checkpoint = models.ForeignKey(BalanceCheckpoint, on_delete=models.CASCADE, related_name="totals")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("transaction kind"), max_length=20, choices=LedgerTransaction.Kind.choices)
    debit = models.DecimalField(**AMOUNT)
    credit = models.DecimalField(**AMOUNT)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["checkpoint", "account", "kind"], name="checkpoint_total_unique"),
        ]

    def __str__(self):
        return f"{self.checkpoint_id}: {self.account_id} {self.kind} {self.debit}/{self.credit}"
