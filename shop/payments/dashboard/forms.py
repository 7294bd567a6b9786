from django import forms
from django.core.validators import MinValueValidator
from django.utils.translation import gettext_lazy as _

from fundraising.forms_money import MoneyAmountField
from fundraising.money import stripe_quantum


class RefundForm(forms.Form):
    """What to refund. No scope is chosen in advance, and a form whose fields contradict the chosen scope is
    refused (an amount typed while "the whole order" is chosen, lines chosen with "an amount"...)."""

    WHOLE, LINES, AMOUNT = "whole", "lines", "amount"
    scope = forms.ChoiceField(
        label=_("Refund"), widget=forms.RadioSelect,
        error_messages={"required": _("Choose what to refund: the whole order, chosen lines or an amount.")},
        choices=[(WHOLE, _("the whole order (what is left of it)")), (LINES, _("chosen lines")),
                 (AMOUNT, _("an amount"))],
    )
    # In the order's currency (set in __init__), and only what Stripe can refund in it.
    amount = MoneyAmountField(label=_("Amount"), required=False, stripe=True)
    reason = forms.CharField(label=_("Reason"), max_length=255, required=False)
    request_id = forms.RegexField(regex=r"^[0-9a-f]{32}$", widget=forms.HiddenInput)

    def __init__(self, *args, order, **kwargs):
        super().__init__(*args, **kwargs)
        self.order = order
        amount = self.fields["amount"]
        amount.currency = order.currency
        amount.validators.append(MinValueValidator(stripe_quantum(order.currency)))
        self.lines = list(order.lines.all())
        for line in self.lines:
            self.fields[f"line_{line.pk}"] = forms.IntegerField(
                label=line.title, required=False, min_value=0, max_value=line.quantity, initial=0,
            )

    def line_fields(self):
        return [(line, self[f"line_{line.pk}"]) for line in self.lines]

    def clean(self):
        data = super().clean()
        scope = data.get("scope")
        chosen = {line: data.get(f"line_{line.pk}") or 0 for line in self.lines}
        typed = data.get("amount") is not None or self.has_error("amount")
        if scope == self.AMOUNT and not data.get("amount") and not self.has_error("amount"):
            self.add_error("amount", _("Enter the amount to refund."))
        if scope != self.LINES and any(chosen.values()):
            raise forms.ValidationError(_("Items are chosen but the refund is not “chosen lines”: choose one scope "
                                          "and leave the other fields empty."))
        if scope != self.AMOUNT and typed:
            raise forms.ValidationError(_("An amount is typed but the refund is not “an amount”: choose one scope "
                                          "and leave the other fields empty."))
        if scope == self.LINES:
            if not any(chosen.values()):
                raise forms.ValidationError(_("Choose at least one item to refund."))
            data["line_quantities"] = {line: qty for line, qty in chosen.items() if qty}
        return data
