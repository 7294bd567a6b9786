"""oscarapi's order lines for their customer only (loaded as part of shop.api.views.checkout, the module
OSCARAPI_OVERRIDE_MODULES makes oscarapi read for its "views.checkout" classes).

oscarapi filters order lines by ``order__user=request.user``, which for an anonymous request raises TypeError
(500), and would serve any order line attribute to anyone, but its serializer links the attribute's line to a
view name that does not exist (ImproperlyConfigured, 500). Here an anonymous request has no order lines (a
guest reads an order through /api/p6/orders/<number>/, by its session), an attribute is its customer's only,
and its line links to the order line.
"""

from oscarapi.serializers.checkout import OrderLineAttributeSerializer as OscarApiOrderLineAttributeSerializer
from oscarapi.views.checkout import OrderLineAttributeDetail as OscarApiOrderLineAttributeDetail
from oscarapi.views.checkout import OrderLineDetail as OscarApiOrderLineDetail
from oscarapi.views.checkout import OrderLineList as OscarApiOrderLineList
from rest_framework import serializers


class OrderLineAttributeDetailSerializer(OscarApiOrderLineAttributeSerializer):
    line = serializers.HyperlinkedRelatedField(view_name="order-lines-detail", read_only=True)


class CustomersOnlyMixin:
    customer_lookup = "order__user"

    def get_queryset(self):
        if not self.request.user.is_authenticated:
            return self.queryset.none()
        return super().get_queryset().filter(**{self.customer_lookup: self.request.user})


class OrderLineList(CustomersOnlyMixin, OscarApiOrderLineList):
    pass


class OrderLineDetail(CustomersOnlyMixin, OscarApiOrderLineDetail):
    pass


class OrderLineAttributeDetail(CustomersOnlyMixin, OscarApiOrderLineAttributeDetail):
    customer_lookup = "line__order__user"
    serializer_class = OrderLineAttributeDetailSerializer
