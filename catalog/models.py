"""Unit cost of a stock record.

Oscar 3.0 removed ``StockRecord.cost_price`` and ``Line.unit_cost_price``; the donation is computed
from profit, so the cost of each buyable variant is ours to keep. One row per stock record, in the
stock record's own currency (a cost in another currency than the price would make profit meaningless).
Orders snapshot the cost when they are placed, so editing it never rewrites a past donation.
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class UnitCost(models.Model):
    stockrecord = models.OneToOneField(
        "partner.StockRecord", on_delete=models.CASCADE, related_name="unit_cost", verbose_name=_("stock record")
    )
    amount = models.DecimalField(
        _("unit cost"), max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.00"))]
    )
    currency = models.CharField(_("currency"), max_length=3)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("unit cost")
        verbose_name_plural = _("unit costs")
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="unit_cost_not_negative"),
        ]

    def __str__(self):
        return f"{self.stockrecord.partner_sku}: {self.amount} {self.currency}"

    def clean(self):
        if self.stockrecord_id and self.currency != self.stockrecord.price_currency:
            raise ValidationError(
                {"currency": _("The unit cost must be in the stock record's currency (%(currency)s).")
                 % {"currency": self.stockrecord.price_currency}}
            )
