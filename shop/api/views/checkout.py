"""oscarapi's checkout, placing orders like the storefront (found through OSCARAPI_OVERRIDE_MODULES).

oscarapi's CheckoutSerializer calls Oscar's OrderPlacementMixin.place_order, as the storefront does, so it goes
through the same placement path (shop.checkout.placement.place_order: stock locked, order written, donation
snapshot, one transaction). The order is then remembered in the session that placed it, which is what lets
a guest pay it (shop.checkout.views.order_for_request).

The money a client may send (the expected ``total`` and ``shipping_charge``) is read like every amount staff
type: plain decimal notation, no finer than the basket currency's minor unit (MoneyAmountField's rules).
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from oscar.core.loading import get_model
from oscarapi.serializers.checkout import CheckoutSerializer as OscarApiCheckoutSerializer
from oscarapi.serializers.checkout import PriceSerializer
from oscarapi.views.checkout import CheckoutView as OscarApiCheckoutView
from rest_framework import exceptions, serializers

from fundraising.forms_money import MoneyAmountField
from shop.api.views.body import ObjectBodyMixin
from shop.api.views.orders import OrderLineAttributeDetail, OrderLineDetail, OrderLineList  # noqa: F401 (oscarapi's)
from shop.checkout import placement
from shop.checkout.emails import owe_pending_order_email
from shop.checkout.stock import OutOfStock
from shop.checkout.views import remember_payable_order

Order = get_model("order", "Order")


class AmountField(serializers.Field):
    """An amount sent by a client: a JSON string (or integer) in plain decimal notation.

    A JSON float is refused: its notation (1e1, 0.1 read as binary) is lost before we see it. The decimals
    are checked against the basket's currency in CheckoutSerializer.validate, once the basket is known.
    """

    default_error_messages = {
        "not_text": _('Send the amount as a string in plain decimal notation, like "12.50".'),
    }

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (str, int)):
            self.fail("not_text")
        return _clean_amount(data, currency=None)

    def to_representation(self, value):
        return format(value, "f")


def _clean_amount(value, *, currency):
    try:
        return MoneyAmountField(currency=currency).clean(value)
    except DjangoValidationError as error:
        raise serializers.ValidationError(error.messages) from None


class PriceInputSerializer(PriceSerializer):
    excl_tax = AmountField(required=True)
    incl_tax = AmountField(required=False)
    tax = AmountField(required=False)


class CheckoutSerializer(OscarApiCheckoutSerializer):
    total = AmountField(required=False)
    shipping_charge = PriceInputSerializer(many=False, required=False)

    def validate(self, attrs):
        currency = attrs["basket"].currency
        if currency:  # an empty basket has none; oscarapi refuses it with its own message
            errors = {}
            if attrs.get("total") is not None:
                try:
                    _clean_amount(attrs["total"], currency=currency)
                except serializers.ValidationError as error:
                    errors["total"] = error.detail
            for name, amount in (attrs.get("shipping_charge") or {}).items():
                if name == "currency" or amount is None:
                    continue
                try:
                    _clean_amount(amount, currency=currency)
                except serializers.ValidationError as error:
                    errors.setdefault("shipping_charge", {})[name] = error.detail
            if errors:
                raise serializers.ValidationError(errors)
        return super().validate(attrs)

    def place_order(self, *args, **kwargs):
        def write_order():
            return super(CheckoutSerializer, self).place_order(*args, **kwargs)

        try:
            order = placement.place_order(basket=kwargs["basket"], write_order=write_order)
        except OutOfStock as exc:
            # oscarapi answers a checkout it cannot place with 406; nothing was written.
            raise exceptions.NotAcceptable(str(exc)) from exc
        return order


class CheckoutView(ObjectBodyMixin, OscarApiCheckoutView):
    serializer_class = CheckoutSerializer

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        if response.status_code == 200 and isinstance(response.data, dict) and response.data.get("number"):
            order = Order.objects.filter(number=response.data["number"]).first()
            if order is not None:
                remember_payable_order(request, order)
                owe_pending_order_email(order=order)  # as the storefront: the way back to pay
        return response
