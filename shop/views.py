from django.contrib.flatpages.models import FlatPage
from django.contrib.sites.shortcuts import get_current_site
from django.views.generic import ListView, TemplateView
from oscar.core.loading import get_model

from shop.browse import listed
from shop.pagecache.pages import CachedPageMixin

Product = get_model("catalogue", "Product")


class HomeView(CachedPageMixin, ListView):
    """The P6 home page: what the campaign is, and every product on sale (cached: shop/pagecache)."""

    def get(self, request, *args, **kwargs):
        return self.cached_get(request, lambda: super(HomeView, self).get(request, *args, **kwargs))

    template_name = "shop/home.html"
    context_object_name = "products"

    def get_queryset(self):
        return listed(Product.objects.browsable()).order_by("date_created", "pk")


class AboutView(CachedPageMixin, TemplateView):
    """What Principle 6 is and where the money goes (cached: shop/pagecache): the flat page at this address, in the
    fan's language (staff edit it under Content > Pages; load_p6_catalogue seeds it), else the template's text."""

    def get(self, request, *args, **kwargs):
        return self.cached_get(request, lambda: super(AboutView, self).get(request, *args, **kwargs))

    template_name = "shop/about.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        site = get_current_site(self.request)
        ctx["page"] = FlatPage.objects.filter(url=self.request.path, sites=site).first()
        return ctx
