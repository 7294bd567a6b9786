"""Whole fan pages from the cache, with what differs per request put back on every hit.

The catalogue list, the category pages, the home page and the product page cost 40-70 ms to build
(product and variant queries, the donation estimate, the category tree of the navigation, template
rendering); a flash sale asks for the same few pages thousands of times. A page is cached whole when
the request shows nothing personal: an anonymous visitor with an empty basket and no messages. Such a
page differs between visitors only by its CSRF token and its Content-Security-Policy nonce, which are
rendered as placeholders and replaced with the visitor's own token and this response's nonce on the way
out (so the add-to-basket form posts as before, the CSRF cookie is set as before, and the page's inline
script carries the nonce its header names: shop/security/headers.py).

A cached page is found by a key made of:
- the catalogue stamp (shop/pagecache/models.py), bumped by every save or delete of what pages show;
- the stock records of the page's products that are at or below LOW_STOCK net units, with their
  levels: the only stock figures a page shows ("Only 3 left", a sold-out variant disabled), read with one
  query on every request, so a sale that takes the last units changes the key at once although sales
  change stock with queryset updates that send no signal;
- the language, the host, the path and the page number, and on the product page the visitor's recently
  viewed products (from their cookie).
It expires at the latest after SHOP_PAGE_CACHE_SECONDS, and before the next change of share rule (the
donation estimate follows the rule in force). A stale page never sells what is gone: placement locks
and re-checks stock (shop/checkout/stock.py) whatever a page showed.

Cached in the default cache: Redis when REDIS_URL is set (shared by every process), else each process's
memory. Either way correct: the key's parts are read from the database.
"""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.utils import timezone
from django.utils.translation import get_language
from oscar.core.loading import get_model

from shop.pagecache.models import CatalogueStamp
from shop.partner.strategy import LOW_STOCK

StockRecord = get_model("partner", "StockRecord")

#: Rendered in place of the CSRF token in cached pages; replaced by the visitor's token when served.
CSRF_PLACEHOLDER = "p6-page-cache-csrf-token-placeholder"
#: Rendered in place of the CSP nonce in cached pages; replaced by this response's nonce when served.
NONCE_PLACEHOLDER = "p6-page-cache-csp-nonce-placeholder"
#: Query parameters a cached page may have (any other: the page is built, not cached).
CACHED_PARAMS = frozenset({"page"})
KEY_PREFIX = "p6:page"


def cacheable(request):
    """True when the page shown to ``request`` is the one shown to any anonymous visitor."""
    if request.method not in ("GET", "HEAD") or not settings.SHOP_PAGE_CACHE_SECONDS:
        return False
    if set(request.GET) - CACHED_PARAMS:
        return False
    if request.user.is_authenticated:
        return False
    if len(get_messages(request)):
        return False
    basket = getattr(request, "basket", None)
    return basket is None or basket.is_empty


def catalogue_version():
    return CatalogueStamp.objects.filter(pk=1).values_list("version", flat=True).first() or 0


def low_stock(*, product_id=None):
    """[(stock record id, net units)] of the records at or below LOW_STOCK, of one product and its variants
    (``product_id``) or of all products; one query."""
    records = StockRecord.objects.filter(num_in_stock__isnull=False)
    if product_id is not None:
        records = records.filter(Q(product_id=product_id) | Q(product__parent_id=product_id))
    net = F("num_in_stock") - Coalesce("num_allocated", 0)
    return sorted(records.annotate(net=net).filter(net__lte=LOW_STOCK).values_list("pk", "net"))


def page_key(request, *, product_id=None, extra=""):
    params = "&".join(f"{k}={request.GET[k]}" for k in sorted(request.GET))
    parts = [
        str(catalogue_version()), repr(low_stock(product_id=product_id)), get_language() or "",
        request.get_host(), request.path, params, extra,
    ]
    return f"{KEY_PREFIX}:{hashlib.sha256(chr(31).join(parts).encode()).hexdigest()}"


def seconds_to_keep():
    """SHOP_PAGE_CACHE_SECONDS, or less when a share rule starts or ends sooner (one query)."""
    from fundraising.selectors import next_rule_change

    keep = settings.SHOP_PAGE_CACHE_SECONDS
    now = timezone.now()
    change = next_rule_change(after=now)
    if change is not None and change - now < timedelta(seconds=keep):
        keep = max(0, int((change - now).total_seconds()))
    return keep


def cached_response(request, key):
    """The cached page for ``key`` with the visitor's CSRF token in it, or None."""
    html = cache.get(key)
    if html is None:
        return None
    response = HttpResponse(personalised(html, request))
    response["X-Page-Cache"] = "hit"
    return response


def personalised(html, request):
    """``html`` with the visitor's CSRF token and this request's CSP nonce in place of the placeholders."""
    return html.replace(CSRF_PLACEHOLDER, get_token(request)).replace(NONCE_PLACEHOLDER, str(request.csp_nonce))


def keep_when_rendered(request, response, key):
    """Store ``response`` (a TemplateResponse rendered with CSRF_PLACEHOLDER as its token) once it is
    rendered, then put the visitor's token in it."""

    def store(rendered):
        html = rendered.content.decode(rendered.charset)
        if rendered.status_code == 200:
            keep = seconds_to_keep()
            if keep:
                cache.set(key, html, keep)
        rendered.content = personalised(html, request)
        rendered["X-Page-Cache"] = "miss"
        return rendered

    response.add_post_render_callback(store)
    return response


class CachedPageMixin:
    """For a view whose page depends only on the catalogue, the path and the language, for anonymous
    visitors with an empty basket. The product page adds its product (stock) and the visitor's history."""

    def page_cache_key(self, request):
        return page_key(request)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        if getattr(self, "page_key", None):
            ctx["csrf_token"] = CSRF_PLACEHOLDER  # the view's context wins over the csrf context processor
            ctx["csp_nonce"] = NONCE_PLACEHOLDER
        return ctx

    def cached_get(self, request, build):
        """``build()`` the response, or answer from the cache."""
        self.page_key = self.page_cache_key(request) if cacheable(request) else None
        if self.page_key is None:
            return build()
        hit = cached_response(request, self.page_key)
        if hit is not None:
            return hit
        response = build()
        if getattr(response, "is_rendered", True):  # a redirect or an error: nothing to keep
            self.page_key = None
            return response
        return keep_when_rendered(request, response, self.page_key)
