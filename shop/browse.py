"""Catalogue browsing straight from the database.

Oscar 4 browses the catalogue through Haystack facets, and Haystack's SimpleEngine (the only backend that
needs no search server) returns no results for those queries, so a stock install lists no products
(django-oscar issue #4366). A campaign shop with a few dozen products does not need a search server:
these views list the public parent and standalone products with the same templates, ordered and
paginated in SQL, with a constant number of queries per page. They answer the same URLs and URL names
as Oscar's (`catalogue:index`, `catalogue:category`, `search:search`) because shop/urls.py routes those
paths here first.
"""

import re

from django.conf import settings
from django.db.models import Q
from django.http import Http404, HttpResponsePermanentRedirect
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from django.views.generic import ListView
from modeltranslation.utils import get_language as active_language
from oscar.apps.catalogue import views as oscar_catalogue_views
from oscar.core.loading import get_class, get_model

from shop.pagecache.pages import CachedPageMixin, page_key

Product = get_model("catalogue", "Product")
Category = get_model("catalogue", "Category")
CustomerHistoryManager = get_class("customer.history", "CustomerHistoryManager")


def listed(products):
    """``products`` with what a product card shows fetched up front: each parent's public variants and their
    stock records in one query each (Oscar's strategy prices a parent from them; through ``children`` alone
    it would ask again for each parent)."""
    variants = Product.objects.public().prefetch_related("stockrecords")
    return products.base_queryset().prefetch_related("stockrecords").prefetch_public_children(queryset=variants)


class ProductListView(CachedPageMixin, ListView):
    template_name = "oscar/catalogue/browse.html"
    context_object_name = "products"
    paginate_by = settings.OSCAR_PRODUCTS_PER_PAGE
    summary = _("All products")

    def get(self, request, *args, **kwargs):
        return self.cached_get(request, lambda: super(ProductListView, self).get(request, *args, **kwargs))

    def products(self):
        return listed(Product.objects.browsable()).order_by("-date_created", "-pk")

    def get_queryset(self):
        return self.products()

    def paginate_queryset(self, queryset, page_size):
        try:
            return super().paginate_queryset(queryset, page_size)
        except Http404:
            raise Http404(_("There is no such page of products.")) from None

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["summary"] = self.summary
        ctx["page"] = ctx["page_obj"]
        return ctx


class CatalogueView(ProductListView):
    """All public products (Oscar's `catalogue:index`)."""


class ProductCategoryView(ProductListView):
    """Products in a category and its sub-categories (Oscar's `catalogue:category`)."""

    template_name = "oscar/catalogue/category.html"

    def get(self, request, *args, **kwargs):
        self.category = get_object_or_404(Category, pk=kwargs["pk"])
        if not (self.category.is_public or request.user.is_staff):
            raise Http404(_("There is no such category."))
        expected = self.category.get_absolute_url()
        if request.path != expected:
            return HttpResponsePermanentRedirect(expected)
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return self.products().filter(categories__in=self.category.get_descendants_and_self()).distinct()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["category"] = self.category
        ctx["summary"] = self.category.name
        return ctx


class ProductSearchView(ProductListView):
    """Search by words in the title, description or SKU, in the fan's language or English (Oscar's `search:search`)."""

    max_terms = 8

    def get(self, request, *args, **kwargs):
        return ListView.get(self, request, *args, **kwargs)  # one page per query: not cached

    def get_queryset(self):
        self.query = self.request.GET.get("q", "").strip()[:200]
        qs = self.products()
        # The fan's language and English (what a product shows when it has no translation), named explicitly:
        # django-modeltranslation would rewrite `title` to the active language's column alone.
        # A regular expression of the escaped word rather than icontains: SQLite's LIKE folds ASCII letters only
        # ("футболка" would miss "Футболка"); iregex is Python's re there and PostgreSQL's ~*, both Unicode-aware.
        languages = dict.fromkeys([active_language(), settings.MODELTRANSLATION_DEFAULT_LANGUAGE])
        for term in self.query.split()[: self.max_terms]:
            matches = Q(upc__icontains=term) | Q(children__upc__icontains=term)
            word = re.escape(term)
            for lang in languages:
                matches |= Q(**{f"title_{lang}__iregex": word}) | Q(**{f"description_{lang}__iregex": word})
            qs = qs.filter(matches)
        return qs.distinct()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["summary"] = _("Products matching “%(query)s”") % {"query": self.query} if self.query else self.summary
        ctx["query"] = self.query
        return ctx


class ProductDetailView(CachedPageMixin, oscar_catalogue_views.ProductDetailView):
    """Oscar's product page with the parent's variants fetched up front, and cached (shop/pagecache).

    The page offers the variant choice (shop/templates/oscar/catalogue/detail.html), and Oscar's
    add-to-basket form then reads each child's attributes and stock record: two queries per variant
    (97 queries for the 18 T-shirts). Prefetching the public children with their stock records and
    attribute values, as Oscar's own manager methods allow, makes the page's query count independent
    of the number of variants.

    From the cache, the page still counts as viewed (Oscar's product_viewed: the product's view count and
    the visitor's recently-viewed cookie), and its key holds that cookie, which the page shows.
    """

    def get(self, request, *args, **kwargs):
        response = self.cached_get(
            request, lambda: super(ProductDetailView, self).get(request, *args, **kwargs))
        if response.get("X-Page-Cache") == "hit":
            product = Product.objects.only("id", "parent_id", "structure").filter(pk=kwargs["pk"]).first()
            if product is not None:
                self.send_signal(request, response, product)
        return response

    def page_cache_key(self, request):
        # The page lists the visitor's recently viewed products but this one (Oscar's template tag).
        shown = [pk for pk in CustomerHistoryManager.extract(request) if str(pk) != str(self.kwargs["pk"])]
        return page_key(request, product_id=self.kwargs["pk"], extra=repr(shown))

    def get_queryset(self):
        children = Product.objects.public().prefetch_attribute_values().prefetch_related("stockrecords")
        return (
            Product.objects.base_queryset()
            .prefetch_public_children(queryset=children)
            .prefetch_attribute_values()
        )
