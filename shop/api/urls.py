from django.urls import re_path

from shop.api import p6, schema

# Any path segment reaches the view, which answers a malformed number or id with its JSON 404.
NUMBER = r"(?P<number>[^/]+)"

urlpatterns = [
    re_path(rf"^orders/{NUMBER}/pay/$", p6.PayOrderView.as_view(), name="p6-api-pay"),
    re_path(rf"^orders/{NUMBER}/donation/$", p6.OrderDonationView.as_view(), name="p6-api-order-donation"),
    re_path(r"^products/(?P<pk>[^/]+)/donation/$", p6.ProductDonationView.as_view(),
            name="p6-api-product-donation"),
    re_path(r"^totals/$", p6.TotalsView.as_view(), name="p6-api-totals"),
    re_path(r"^schema/$", schema.schema_view, name="p6-api-schema"),
]
