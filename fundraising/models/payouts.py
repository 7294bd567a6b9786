"""Disbursements: money paid out to a beneficiary, each with its ledger transaction."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fundraising.models.common import AMOUNT, AppendOnlyModel
from fundraising.models.ledger import LedgerTransaction
from fundraising.models.rules import Beneficiary


class Disbursement(AppendOnlyModel):
    beneficiary = models.ForeignKey(Beneficiary, on_delete=models.PROTECT, related_name="disbursements")
    amount = models.DecimalField(_("amount"), **AMOUNT)
    currency = models.CharField(_("currency"), max_length=3)
    paid_on = models.DateField(_("paid on"))
    reference = models.CharField(_("payout reference"), max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    transaction = models.OneToOneField(LedgerTransaction, on_delete=models.PROTECT, related_name="disbursement")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta(AppendOnlyModel.Meta):
        ordering = ["-paid_on", "-id"]
        verbose_name = _("disbursement")
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="disbursement_positive")]

    def __str__(self):
        return f"{self.amount} {self.currency} to {self.beneficiary} on {self.paid_on}"
