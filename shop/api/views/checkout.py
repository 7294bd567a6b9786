"""oscarapi's checkout, placing orders like the storefront (found through OSCARAPI_OVERRIDE_MODULES).

The storefront's PaymentDetailsView.place_order locks the basket's stock, lets Oscar write the order and
takes the donation snapshot, all in one transaction; oscarapi's CheckoutSerializer calls the same
OrderPlacementMixin.place_order, so the same wrapping goes there. The order is then remembered in the
session that placed it, which is what lets a guest pay it (shop.checkout.views.order_for_request).
"""

from django.db import transaction
from oscar.core.loading import get_model
from oscarapi.serializers.checkout import CheckoutSerializer as OscarApiCheckoutSerializer
from oscarapi.views.checkout import CheckoutView as OscarApiCheckoutView
from rest_framework import exceptions

from fundraising import services as fundraising
from shop.checkout.stock import OutOfStock, lock_stock_for_basket
from shop.checkout.views import remember_payable_order

Order = get_model("order", "Order")


class CheckoutSerializer(OscarApiCheckoutSerializer):
    def place_order(self, *args, **kwargs):
        try:
            with transaction.atomic():
                lock_stock_for_basket(kwargs["basket"])
                order = super().place_order(*args, **kwargs)
                fundraising.snapshot_order(order=order)
        except OutOfStock as exc:
            # oscarapi answers a checkout it cannot place with 406; nothing was written.
            raise exceptions.NotAcceptable(str(exc))
        return order


class CheckoutView(OscarApiCheckoutView):
    serializer_class = CheckoutSerializer

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        if response.status_code == 200 and isinstance(response.data, dict) and response.data.get("number"):
            order = Order.objects.filter(number=response.data["number"]).first()
            if order is not None:
                remember_payable_order(request, order)
        return response
