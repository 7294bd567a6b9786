from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _


class UnitCostForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Unit cost"), min_value=Decimal("0.00"), max_digits=12, decimal_places=2,
        help_text=_("What one unit costs us, in the stock record's currency. Orders already placed keep the cost "
                    "they were placed with."),
    )

    def __init__(self, *args, price=None, **kwargs):
        self.price = price
        super().__init__(*args, **kwargs)
