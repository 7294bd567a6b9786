"""The form field for every amount of money staff type (dashboard forms of shop and fundraising, the unit costs).

One rule, one place: the notation and the currency's decimals are checked by ``fundraising.money.parse_amount``
(plain decimal notation, no finer than the currency's minor unit, at most 12 digits before the point); this
field only words its refusals in the user's language. It lives in ``fundraising``, next to the money rules,
because the import direction (shop -> fundraising -> catalog) lets shop's forms use it too.
"""

from django import forms
from django.core import validators
from django.utils.translation import gettext_lazy as _

from fundraising.money import AmountError, amount_example, normalise, parse_amount


# "Enter an amount in whole yen": the unit's name in the user's language (others say "whole CLP").
UNIT_NAMES = {
    # Translators: the unit in "Enter an amount in whole %(unit)s", in the form that sentence needs.
    "JPY": _("yen"),
    # Translators: the unit in "Enter an amount in whole %(unit)s", in the form that sentence needs.
    "KRW": _("won"),
}


class MoneyAmountField(forms.Field):
    """An amount of ``currency`` as a Decimal at the currency's scale ("5" USD -> Decimal("5.00")).

    ``currency`` may be set after construction (``form.fields["amount"].currency = order.currency``), e.g.
    from the form's instance or, in ``clean_<currency field>``, from a currency chosen in the same form
    (fields are cleaned in their declared order). While it is None the field checks the notation and the
    size only. ``stripe=True`` also refuses what Stripe cannot charge in the currency (refunds).
    """

    widget = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
    default_error_messages = {
        "invalid": _("Enter the amount in plain decimal notation, like %(example)s: digits and at most one "
                     "decimal point, no exponent, thousands separator or plus sign."),
        "negative": _("Enter an amount that is not negative."),
        "too_large": _("Enter at most %(digits)s digits before the decimal point."),
        "whole": _("Enter an amount in whole %(unit)s (%(currency)s has no decimals)."),
        "decimals": _("Enter at most %(places)s decimal places for %(currency)s."),
        "stripe": _("Stripe charges %(currency)s in steps of %(step)s %(currency)s: %(amount)s %(currency)s "
                    "cannot be charged."),
    }

    def __init__(self, *, currency=None, allow_negative=False, min_value=None, max_value=None, stripe=False,
                 **kwargs):
        self.currency = currency
        self.allow_negative = allow_negative
        self.stripe = stripe
        super().__init__(**kwargs)
        if min_value is not None:
            self.validators.append(validators.MinValueValidator(min_value))
        if max_value is not None:
            self.validators.append(validators.MaxValueValidator(max_value))

    @property
    def currency(self):
        return self._currency

    @currency.setter
    def currency(self, value):
        self._currency = normalise(value) if value else None

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return parse_amount(value, self.currency, allow_negative=self.allow_negative, stripe=self.stripe)
        except AmountError as error:
            params = dict(error.params)
            if error.code == "whole":
                params["unit"] = UNIT_NAMES.get(params["currency"], params["unit"])
            raise forms.ValidationError(self.error_messages[error.code], code=error.code, params=params) from None
        except TypeError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid",
                                        params={"example": amount_example(self.currency)}) from None
