from decimal import Decimal

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from fundraising import selectors
from fundraising.forms_money import MoneyAmountField
from fundraising.models import Account, Beneficiary, CampaignGoal, LedgerTransaction, Partner
from fundraising.money import CurrencyError, normalise, quantize
from fundraising.selectors import account_balance


def currency_choices():
    return [(code, code) for code in selectors.ledger_currencies(including=[settings.SHOP_CURRENCY])]


class CurrencyField(forms.ChoiceField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", currency_choices)
        super().__init__(*args, **kwargs)


class LedgerFilterForm(forms.Form):
    beneficiary = forms.ModelChoiceField(
        label=_("Beneficiary"), queryset=Beneficiary.objects.order_by("name"), required=False
    )
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=[("", "---------")] + LedgerTransaction.Kind.choices
    )
    currency = forms.CharField(label=_("Currency"), required=False, max_length=3)
    date_from = forms.DateField(
        label=_("From (UTC day)"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To (UTC day, included)"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    order = forms.CharField(label=_("Order number"), required=False, max_length=128)
    source = forms.ChoiceField(
        label=_("Source"), required=False,
        choices=[("", "---------"), ("online", _("Online shop")), ("partner", _("Partner sales reports"))],
    )
    partner = forms.ModelChoiceField(
        label=_("Partner"), queryset=Partner.objects.order_by("name"), required=False
    )
    store = forms.CharField(label=_("Store"), required=False, max_length=200,
                            help_text=_("A partner's store, as its reports name it."))

    def clean_currency(self):
        value = self.cleaned_data["currency"].strip()
        if not value:
            return ""
        try:
            return normalise(value)
        except CurrencyError:
            raise forms.ValidationError(_("Not an ISO 4217 currency code.")) from None

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            raise forms.ValidationError(_("The end date is before the start date."))
        if data.get("source") == "online" and (data.get("partner") or (data.get("store") or "").strip()):
            raise forms.ValidationError(_("Online sales have no partner or store: choose the partner source."))
        return data


class StatementForm(forms.Form):
    beneficiary = forms.ModelChoiceField(label=_("Beneficiary"), queryset=Beneficiary.objects.order_by("name"))
    currency = CurrencyField(label=_("Currency"))
    start = forms.DateField(label=_("From (UTC day)"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To (UTC day, included)"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            raise forms.ValidationError(_("The end date is before the start date."))
        return data


class DisbursementForm(forms.Form):
    beneficiary = forms.ModelChoiceField(label=_("Beneficiary"), queryset=Beneficiary.objects.order_by("name"))
    currency = CurrencyField(label=_("Currency"))
    # Checked against the currency chosen above once clean_currency has run (fields clean in this order).
    amount = MoneyAmountField(label=_("Amount"))
    paid_on = forms.DateField(label=_("Paid on"), widget=forms.DateInput(attrs={"type": "date"}))
    reference = forms.CharField(
        label=_("Payout reference"), max_length=200, help_text=_("Bank transfer id or receipt number.")
    )

    def clean_currency(self):
        currency = self.cleaned_data["currency"]
        self.fields["amount"].currency = currency
        return currency

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount <= 0:
            raise forms.ValidationError(_("Enter an amount above zero."))
        return amount

    def clean_paid_on(self):
        paid_on = self.cleaned_data["paid_on"]
        if paid_on > timezone.now().date():
            raise forms.ValidationError(_("A payout cannot be dated in the future."))
        return paid_on

    def clean(self):
        data = super().clean()
        beneficiary, currency, amount = data.get("beneficiary"), data.get("currency"), data.get("amount")
        if beneficiary is None or not currency or amount is None:
            return data
        account = Account.objects.filter(kind=Account.Kind.PAYABLE, beneficiary=beneficiary, currency=currency).first()
        payable = account_balance(account=account) if account else quantize(Decimal(0), currency)
        self.payable = payable
        if amount > payable:
            self.add_error(
                "amount",
                _("More than the payable balance of %(beneficiary)s: %(payable)s %(currency)s.")
                % {"beneficiary": beneficiary, "payable": payable, "currency": currency},
            )
        return data


class BeneficiaryForm(forms.ModelForm):
    class Meta:
        model = Beneficiary
        fields = ["name", "slug", "description", "country", "active", "default_weight", "visibility", "public_name"]
        widgets = {"visibility": forms.RadioSelect}

    def clean_country(self):
        return self.cleaned_data["country"].upper()


class ShareRuleForm(forms.Form):
    share_percent = forms.DecimalField(
        label=_("Share of profit (%)"), min_value=0, max_value=100, max_digits=5, decimal_places=2,
        help_text=_("A percentage of each line's profit, from 0 to 100 (e.g. 50 for half), to two decimals."),
    )
    note = forms.CharField(label=_("Note"), max_length=500, required=False)

    def __init__(self, *args, beneficiaries, **kwargs):
        super().__init__(*args, **kwargs)
        self.beneficiaries = list(beneficiaries)
        for beneficiary in self.beneficiaries:
            self.fields[f"weight_{beneficiary.pk}"] = forms.IntegerField(
                label=beneficiary.name, min_value=0, initial=beneficiary.default_weight,
                help_text=_("0 leaves this group out of the new rule."),
            )

    def clean(self):
        data = super().clean()
        weights = [(b, data.get(f"weight_{b.pk}")) for b in self.beneficiaries]
        if any(weight is None for _, weight in weights):
            return data
        data["weights"] = [(b, weight) for b, weight in weights if weight > 0]
        if not data["weights"]:
            raise forms.ValidationError(_("Give at least one beneficiary a positive weight."))
        if data.get("share_percent") is not None:
            data["share_bps"] = int(data["share_percent"] * 100)
        return data


class GoalForm(forms.ModelForm):
    """The goal in the instance's currency (the shop currency): no finer than its minor unit, never negative."""

    amount = MoneyAmountField(label=capfirst(CampaignGoal._meta.get_field("amount").verbose_name))

    class Meta:
        model = CampaignGoal
        fields = ["amount"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["amount"].currency = self.instance.currency
