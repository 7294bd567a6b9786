from django import forms
from django.utils.translation import gettext_lazy as _

from fundraising.forms_money import MoneyAmountField


class UnitCostForm(forms.Form):
    amount = MoneyAmountField(
        label=_("Unit cost"),
        help_text=_("What one unit costs us, in the stock record's currency. Orders already placed keep the cost "
                    "they were placed with."),
    )

    def __init__(self, *args, price=None, currency=None, **kwargs):
        self.price = price
        super().__init__(*args, **kwargs)
        self.fields["amount"].currency = currency
