"""The public ledger's hash chain: each ledger transaction's public content, sealed in posting order.

A ``ChainLink`` holds what the public ledger publishes of one transaction (its canonical JSON: date, kind,
currency, amount per group's public label, receipt code) with its sequence number, the previous link's hash
and its own: ``sha256(prev_hash + "\\n" + payload)``. Anyone can recompute the chain from the public feed
(scripts/verify_public_ledger); a ``ChainHead`` records the chain's end every hour, so a history rewritten
since a head someone saved is seen. ``ChainState`` is the chain's current end, one row, locked by each posting
(fundraising.chain.seal) so sequence numbers follow commit order without gaps. Links and heads are append-only
(database triggers too, migration 0007).
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fundraising.models.common import AppendOnlyModel

GENESIS = "0" * 64


class ChainState(models.Model):
    """The chain's end: the last sequence number and hash (one row, pk 1)."""

    seq = models.PositiveBigIntegerField(default=0)
    head = models.CharField(max_length=64, default=GENESIS)

    class Meta:
        verbose_name = _("public ledger chain state")

    def __str__(self):
        return f"{self.seq} {self.head}"


class ChainLink(AppendOnlyModel):
    transaction = models.OneToOneField(
        "fundraising.LedgerTransaction", on_delete=models.PROTECT, related_name="chain_link"
    )
    seq = models.PositiveBigIntegerField(_("sequence"), unique=True)
    payload = models.TextField(_("public content (canonical JSON)"))
    prev_hash = models.CharField(_("previous hash"), max_length=64)
    hash = models.CharField(_("hash"), max_length=64, unique=True)
    receipt = models.CharField(_("receipt code"), max_length=32, blank=True, db_index=True)

    class Meta(AppendOnlyModel.Meta):
        ordering = ["seq"]
        verbose_name = _("public ledger link")

    def __str__(self):
        return f"{self.seq} {self.hash}"


class ChainHead(AppendOnlyModel):
    seq = models.PositiveBigIntegerField(_("sequence"))
    hash = models.CharField(_("hash"), max_length=64)
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now, db_index=True)

    class Meta(AppendOnlyModel.Meta):
        ordering = ["-recorded_at", "-id"]
        verbose_name = _("public ledger head")

    def __str__(self):
        return f"{self.seq} {self.hash} at {self.recorded_at.isoformat()}"
