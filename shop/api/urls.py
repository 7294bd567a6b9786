from django.urls import re_path, reverse
from django.views.generic import RedirectView

from shop.api import p6

# Any path segment reaches the view, which answers a malformed number or id with its JSON 404.
NUMBER = r"(?P<number>[^/]+)"


class SchemaMoved(RedirectView):
    """The schema of our endpoints was served here; it is now part of the whole API's, at /api/schema/."""

    permanent = True

    def get_redirect_url(self, *args, **kwargs):
        return reverse("api-schema") + "?format=json"  # JSON, as this address served


urlpatterns = [
    re_path(rf"^orders/{NUMBER}/pay/$", p6.PayOrderView.as_view(), name="p6-api-pay"),
    re_path(rf"^orders/{NUMBER}/donation/$", p6.OrderDonationView.as_view(), name="p6-api-order-donation"),
    re_path(r"^products/(?P<pk>[^/]+)/donation/$", p6.ProductDonationView.as_view(),
            name="p6-api-product-donation"),
    re_path(r"^totals/$", p6.TotalsView.as_view(), name="p6-api-totals"),
    re_path(r"^schema/$", SchemaMoved.as_view(), name="p6-api-schema"),
]
