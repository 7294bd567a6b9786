"""The campaign's goal, and the fundraising dashboard's permissions."""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from fundraising.models.common import AMOUNT


class CampaignGoal(models.Model):
    """The optional fundraising goal shown on the public transparency page, one per currency.

    Also carries the fundraising dashboard's two permissions (a model is where Django keeps them):
    ``view_ledger`` reads every fundraising dashboard page and export; ``record_disbursement`` writes
    (disbursements, beneficiaries, share rules, the goal).
    """

    currency = models.CharField(_("currency"), max_length=3, unique=True)
    amount = models.DecimalField(_("goal amount"), **AMOUNT, validators=[MinValueValidator(0)])
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("campaign goal")
        permissions = [
            ("view_ledger", _("Can read the donation ledger, statements and exports")),
            ("record_disbursement", _("Can record disbursements and edit beneficiaries, share rules and the goal")),
        ]
        constraints = [models.CheckConstraint(condition=Q(amount__gte=0), name="campaign_goal_not_negative")]

    def __str__(self):
        return f"{self.amount} {self.currency}"
