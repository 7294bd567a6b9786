"""Query counts of the three storefront pages with 10 and with 200 browsable products (Django test client),
as built (our page cache off), and for ours also as the page cache serves them.

Run under either project's settings (DJANGO_SETTINGS_MODULE); prints one JSON object. The extra
products are created inside a transaction that is rolled back, so the bench catalogue is unchanged.
"""

import json
import sys
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT)]

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from oscar.core.loading import get_model  # noqa: E402

Product = get_model("catalogue", "Product")
ProductClass = get_model("catalogue", "ProductClass")
ProductCategory = get_model("catalogue", "ProductCategory")
Category = get_model("catalogue", "Category")
StockRecord = get_model("partner", "StockRecord")
Partner = get_model("partner", "Partner")


class Rollback(Exception):
    pass


def browsable():
    return Product.objects.filter(is_public=True, parent__isnull=True).count()


def fill(n):
    have = browsable()
    pc = ProductClass.objects.get(slug="accessory")
    partner = Partner.objects.first()
    category = Category.objects.filter(name="Accessories").first()
    for i in range(max(0, n - have)):
        p = Product.objects.create(upc=f"BENCH-{i}", title=f"Bench product {i}", slug=f"bench-product-{i}",
                                   structure=Product.STANDALONE, product_class=pc, is_public=True)
        ProductCategory.objects.create(product=p, category=category)
        StockRecord.objects.create(product=p, partner=partner, partner_sku=f"BENCH-{i}", price_currency="USD",
                                   price=Decimal("10.00"), num_in_stock=1000)
    # Older than the P6 products, so page 1 always shows the 5 P6 products plus fillers (10 or 24 rows):
    # a difference between 10 and 200 is then per-product work, not a different mix of products.
    Product.objects.filter(upc__startswith="BENCH-").update(date_created="2000-01-01T00:00:00Z")


def count(client, method, url, **kw):
    with CaptureQueriesContext(connection) as ctx:
        response = getattr(client, method)(url, **kw)
    assert response.status_code in (200, 302), (url, response.status_code)
    return len(ctx.captured_queries)


def main():
    setup_test_environment()
    tee = Product.objects.get(upc="P6-TEE")
    tote = Product.objects.get(upc="P6-TOTE")
    detail = tee.get_absolute_url()
    result = {}
    from django.conf import settings

    # Ours: the pages as built (for a fan with a basket), then once more as the page cache serves them.
    page_cache = getattr(settings, "SHOP_PAGE_CACHE_SECONDS", None)
    if page_cache is not None:
        settings.SHOP_PAGE_CACHE_SECONDS = 0
    for n in (10, 200):
        try:
            with transaction.atomic():
                fill(n)
                client = Client()
                client.get("/catalogue/")  # the session, sorl's thumbnail key-value rows, content types
                client.get(detail)
                result[n] = {
                    "products": browsable(),
                    "catalogue": count(client, "get", "/catalogue/"),
                    "detail": count(client, "get", detail),
                    "basket_add": count(Client(), "post", f"/basket/add/{tote.pk}/", data={"quantity": 1}),
                }
                raise Rollback
        except Rollback:
            pass
    if page_cache:
        settings.SHOP_PAGE_CACHE_SECONDS = page_cache
        client = Client()
        client.get("/catalogue/")
        client.get(detail)
        result["cached"] = {"catalogue": count(client, "get", "/catalogue/"), "detail": count(client, "get", detail)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
