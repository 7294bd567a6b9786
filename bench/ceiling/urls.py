"""/bench/ceiling/ (a page from the cache), then every URL of the shop."""

from django.core.cache import cache
from django.http import HttpResponse
from django.urls import path

from shop.urls import urlpatterns as shop_urlpatterns

KEY = "bench:ceiling:page"
# About the size of a product page's HTML, so the bytes sent weigh the same.
PAGE = "<!DOCTYPE html><html><head><title>ceiling</title></head><body>" + "<p>P6 ceiling</p>" * 2000 + "</body></html>"


def ceiling(request):
    page = cache.get(KEY)
    if page is None:
        page = PAGE
        cache.set(KEY, page, 3600)
    return HttpResponse(page)


urlpatterns = [path("bench/ceiling/", ceiling), *shop_urlpatterns]
