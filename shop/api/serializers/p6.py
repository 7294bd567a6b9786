"""The bodies of our endpoints under /api/p6/: what they read (PaySerializer) and what they answer.

The views render their answers through these serializers, so the OpenAPI schema drf-spectacular generates
from them (/api/schema/) is the shape of what is sent, not a description kept beside it.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

# Amounts travel as strings in plain decimal notation ("24.20", "50"), never as JSON floats.
MONEY_SCHEMA = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "example": "24.20"}

PAY_STATUSES = [
    ("succeeded", "Paid."),
    ("requires_action", "3D Secure is needed: finish it with client_secret, then send the intent again."),
    ("processing", "Stripe is still processing the payment; ask again later."),
    ("declined", "The card was declined; the order stays payable."),
    ("error", "Stripe could not be reached or the outcome is unknown; asking again never charges twice."),
    ("invalid", "Nothing usable was sent."),
    ("not_payable", "The order cannot be paid now."),
    ("in_progress", "Another payment for this order is in progress."),
    ("too_many_attempts", "Too many declined payments for this order or from this address in the last hour."),
]

INVALID_REFERENCE = _("That payment reference is not valid.")
NOTHING_SENT = _("Send a payment_method (a PaymentMethod id) or an intent.")


@extend_schema_field(MONEY_SCHEMA)
class MoneyField(serializers.Field):
    """An amount out: a Decimal written in plain notation, or the string it already is (fundraising.public)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return value if isinstance(value, str) else format(value, "f")


class PaymentReferenceField(serializers.CharField):
    """A Stripe id sent by a client: a JSON string (a number is not one), at most 255 characters once trimmed,
    no NUL. Whatever is wrong with it, the fan reads one message."""

    def __init__(self, **kwargs):
        super().__init__(required=False, allow_blank=True, max_length=255, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)

    def run_validation(self, data=empty):
        try:
            return super().run_validation(data)
        except serializers.ValidationError:
            raise serializers.ValidationError(INVALID_REFERENCE, code="invalid") from None


class PaySerializer(serializers.Serializer):
    """Send `payment_method` for a new attempt, or `intent` to check an attempt again after 3D Secure."""

    default_error_messages = {"invalid": NOTHING_SENT}  # the body is not an object

    payment_method = PaymentReferenceField(help_text="A PaymentMethod id (Stripe.js), e.g. pm_card_visa.")
    intent = PaymentReferenceField(help_text="The intent of an attempt that asked for 3D Secure.")

    def validate(self, attrs):
        if not attrs.get("payment_method") and not attrs.get("intent"):
            raise serializers.ValidationError(NOTHING_SENT, code="required")
        return attrs

    def first_error(self):
        """The one message a fan reads: the first of the errors (all of them are one of ours)."""
        errors = self.errors
        for messages in errors.values() if isinstance(errors, dict) else [errors]:
            return str(messages[0] if isinstance(messages, list) else messages)
        return str(NOTHING_SENT)


class PayAnswerSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=PAY_STATUSES)
    message = serializers.CharField(allow_blank=True, help_text="For the fan, in the request's language.")
    # Only with requires_action: absent otherwise (a field that allowed null would be sent as null).
    client_secret = serializers.CharField(
        required=False, help_text="With `requires_action`: for stripe.confirmCardPayment.")
    intent = serializers.CharField(required=False, help_text="With `requires_action`: send it back afterwards.")


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class ProductDonationSerializer(serializers.Serializer):
    product = serializers.IntegerField()
    share_percent = MoneyField(allow_null=True, help_text="The share of the profit donated, in %.")
    donation_per_item = MoneyField(allow_null=True, help_text="About this much per item (the lowest price's).")
    currency = serializers.CharField(allow_null=True)
    is_from = serializers.BooleanField(help_text="The variants differ: the figure is the cheapest buyable one's.")


class OrderDonationSerializer(serializers.Serializer):
    number = serializers.CharField()
    status = serializers.CharField()
    posted = serializers.BooleanField(help_text="The donation is posted once the order is paid.")
    donation = MoneyField(allow_null=True)
    currency = serializers.CharField()


class BeneficiaryTotalsSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    country = serializers.CharField(allow_blank=True, help_text="ISO 3166-1 alpha-2, or empty.")
    raised = MoneyField()
    reversed = MoneyField()
    net_raised = MoneyField()
    disbursed = MoneyField()
    payable = MoneyField()


class SourceTotalsSerializer(serializers.Serializer):
    raised = MoneyField()
    reversed = MoneyField()
    net_raised = MoneyField()
    items_sold = serializers.IntegerField()


class StoreSourceTotalsSerializer(SourceTotalsSerializer):
    items_returned = serializers.IntegerField()


class SourcesSerializer(serializers.Serializer):
    online = SourceTotalsSerializer(help_text="This shop's orders: reversals are refunds, disputes, restorations.")
    stores = StoreSourceTotalsSerializer(help_text="Partners' sales reports: reversals are partner returns.")


class StoreTotalsSerializer(serializers.Serializer):
    partner = serializers.CharField()
    store = serializers.CharField()
    country = serializers.CharField(help_text="ISO 3166-1 alpha-2.")
    raised = MoneyField()
    reversed = MoneyField()
    net_raised = MoneyField()
    items_sold = serializers.IntegerField()
    items_returned = serializers.IntegerField()


class CurrencyTotalsSerializer(serializers.Serializer):
    currency = serializers.CharField()
    raised = MoneyField()
    reversed = MoneyField()
    net_raised = MoneyField()
    disbursed = MoneyField()
    payable = MoneyField()
    items_sold = serializers.IntegerField()
    goal = MoneyField(allow_null=True)
    goal_progress_percent = MoneyField(allow_null=True)
    beneficiaries = BeneficiaryTotalsSerializer(many=True)
    sources = SourcesSerializer(help_text="Raised online and in partners' stores.")
    published_stores = StoreTotalsSerializer(many=True, help_text="Only partners whose stores staff published.")


class LedgerEndSerializer(serializers.Serializer):
    seq = serializers.IntegerField(help_text="The last sequence number of /fundraising/ledger.json included.")
    hash = serializers.CharField(help_text="That link's hash (64 hex digits).")


class TotalsSerializer(serializers.Serializer):
    """The body of /fundraising/totals.json (fundraising.public.as_json); README "Transparency JSON"."""

    schema = serializers.ChoiceField(choices=["p6-fundraising-totals/1"])
    generated_at = serializers.DateTimeField()
    last_updated = serializers.DateTimeField(allow_null=True)
    currencies = CurrencyTotalsSerializer(many=True)
    ledger = LedgerEndSerializer(help_text="The public ledger chain's end these totals include.")
