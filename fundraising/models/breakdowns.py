"""Per-line breakdowns: every figure of an order line's donation, and each beneficiary's part of it."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from fundraising.allocation import BPS_WHOLE
from fundraising.exceptions import AppendOnlyError
from fundraising.models.common import AMOUNT, AppendOnlyModel
from fundraising.models.rules import Beneficiary, ShareRule


class OrderLineBreakdown(models.Model):
    """Every figure of one order line's donation (DESIGN "Money rules"), stored so anyone can recompute it.

    Snapshot fields are written at placement; the capture fields (``fee_share`` .. ``completed_at``)
    are null until ``services.post_sale`` completes the row, once. ``save()`` refuses to change an
    existing row: the snapshot is history, and completion goes through the service's conditional update.
    """

    line = models.OneToOneField("order.Line", on_delete=models.PROTECT, related_name="donation_breakdown")
    order = models.ForeignKey("order.Order", on_delete=models.PROTECT, related_name="donation_breakdowns")
    currency = models.CharField(_("currency"), max_length=3)
    quantity = models.PositiveIntegerField(_("quantity"))
    revenue_excl_tax = models.DecimalField(_("revenue excl. tax after discounts"), **AMOUNT)
    unit_cost = models.DecimalField(_("unit cost"), **AMOUNT)
    unit_cost_missing = models.BooleanField(
        _("unit cost missing"), default=False,
        help_text=_("No unit cost (in the order currency) was recorded for the stock record: 0 was used."),
    )
    rule = models.ForeignKey(ShareRule, null=True, blank=True, on_delete=models.PROTECT, related_name="breakdowns")
    share_bps = models.PositiveIntegerField(_("share (basis points)"))
    snapshotted_at = models.DateTimeField(_("snapshot taken at"))
    snapshotted_late = models.BooleanField(
        _("snapshot taken at capture"), default=False,
        help_text=_("The order was placed without a snapshot; it was taken at capture with the rule in "
                    "force when the order was placed and the unit costs of that moment."),
    )
    fee_share = models.DecimalField(_("payment fee share"), null=True, blank=True, **AMOUNT)
    fee_estimated = models.BooleanField(_("fee estimated"), null=True, blank=True)
    profit = models.DecimalField(_("profit"), null=True, blank=True, **AMOUNT)
    donation = models.DecimalField(_("donation"), null=True, blank=True, **AMOUNT)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    class Meta:
        ordering = ["order_id", "line_id"]
        verbose_name = _("order line breakdown")
        constraints = [
            models.CheckConstraint(condition=Q(share_bps__lte=BPS_WHOLE), name="breakdown_share_bps_range"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="breakdown_quantity_positive"),
            models.CheckConstraint(
                condition=Q(revenue_excl_tax__gte=0, unit_cost__gte=0), name="breakdown_snapshot_not_negative"
            ),
            models.CheckConstraint(
                condition=(
                    Q(completed_at__isnull=True, fee_share__isnull=True, fee_estimated__isnull=True,
                      profit__isnull=True, donation__isnull=True)
                    | Q(completed_at__isnull=False, fee_share__gte=0, fee_estimated__isnull=False,
                        profit__gte=0, donation__gte=0, donation__lte=models.F("profit"))
                ),
                name="breakdown_completed_all_or_nothing",
            ),
        ]

    def __str__(self):
        return f"breakdown of line {self.line_id} (order {self.order_id})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("a breakdown snapshot is history: it is completed by services.post_sale only")
        super().save(*args, **kwargs)


class BreakdownPart(AppendOnlyModel):
    breakdown = models.ForeignKey(OrderLineBreakdown, on_delete=models.PROTECT, related_name="parts")
    beneficiary = models.ForeignKey(Beneficiary, on_delete=models.PROTECT, related_name="breakdown_parts")
    weight = models.PositiveIntegerField(_("weight"))
    amount = models.DecimalField(_("amount"), **AMOUNT)

    class Meta(AppendOnlyModel.Meta):
        ordering = ["breakdown_id", "beneficiary_id"]
        verbose_name = _("breakdown part")
        constraints = [
            models.UniqueConstraint(fields=["breakdown", "beneficiary"], name="breakdown_part_unique"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="breakdown_part_not_negative"),
        ]

    def __str__(self):
        return f"{self.breakdown_id}:{self.beneficiary_id} {self.amount}"
