"""A fan browses the P6 catalogue and fills a basket (issue #2)."""

import re

from decimal import Decimal

import pytest
from django.urls import reverse
from oscar.core.loading import get_class, get_model

Product = get_model("catalogue", "Product")
Category = get_model("catalogue", "Category")
StockRecord = get_model("partner", "StockRecord")
Basket = get_model("basket", "Basket")
Selector = get_class("partner.strategy", "Selector")

pytestmark = pytest.mark.django_db

TITLES = ["P6 Unisex T-shirt", "P6 Hoodie", "P6 Tank Top", "P6 Tote Bag", "P6 Enamel Pin"]
PRICES = ["$30.00", "$58.00", "$26.00", "$20.00", "$8.00"]


def _variant(sku):
    return StockRecord.objects.select_related("product", "product__parent").get(partner_sku=sku)


def _add(client, sku, quantity=1):
    record = _variant(sku)
    product = record.product
    data = {"quantity": quantity}
    if product.parent_id:
        data["child_id"] = product.pk
        product = product.parent
    return client.post(reverse("basket:add", kwargs={"pk": product.pk}), data, follow=True)


def _basket(client):
    """The anonymous fan's basket (Oscar keeps its id in a signed cookie; there is one basket per test)."""
    basket = Basket.objects.order_by("-pk").first()
    if basket is not None:
        basket.strategy = Selector().strategy()
    return basket


def _basket_lines(client):
    basket = _basket(client)
    return list(basket.all_lines()) if basket else []


@pytest.mark.parametrize("url_name", ["p6-home", "catalogue:index"])
def test_home_and_catalogue_list_every_p6_product_with_its_price(client, p6_catalogue, url_name):
    # when a fan opens the page
    response = client.get(reverse(url_name))
    # then every P6 product is there with its price
    assert response.status_code == 200
    content = response.content.decode()
    for title, price in zip(TITLES, PRICES, strict=True):
        assert title in content
        assert price in content


def test_category_page_lists_only_its_products(client, p6_catalogue):
    # given the T-shirts category
    category = Category.objects.get(name="T-shirts")
    # when a fan opens it
    response = client.get(category.get_absolute_url())
    # then the T-shirt is listed with its price and the hoodie is not
    content = response.content.decode()
    assert response.status_code == 200
    assert "P6 Unisex T-shirt" in content and "$30.00" in content
    assert "P6 Hoodie" not in content


def test_product_page_offers_every_variant(client, p6_catalogue):
    # given the T-shirt, a parent of 18 variants
    tee = Product.objects.get(upc="P6-TEE")
    # when a fan opens its page
    response = client.get(tee.get_absolute_url())
    # then it explains Principle 6 and offers each size and colour to choose from
    content = response.content.decode()
    assert response.status_code == 200
    assert "Principle 6" in content and "Olympic Charter" in content
    options = re.findall(r'<option value="(\d+)"[^>]*>\s*([^<]*?)\s*</option>', content)
    assert {int(pk) for pk, _ in options} == {child.pk for child in tee.children.all()}
    assert len(options) == 18
    assert any("Size: M" in label and "Colour: Black" in label for _, label in options), options[:3]
    # and it is priced from its cheapest size
    assert "$30.00" in content


def test_about_page_explains_principle_6(client, db):
    response = client.get(reverse("about-p6"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "sexual orientation" in content and "Sochi" in content and "American Apparel" in content


def test_adding_a_variant_gives_the_right_line_and_total(client, p6_catalogue):
    # when a fan adds two P6 T-shirts, black, size M
    response = _add(client, "P6-TEE-BLK-M", quantity=2)
    # then the basket has one line of that variant and totals 60.00
    assert response.status_code == 200
    lines = _basket_lines(client)
    assert [(line.product.upc, line.quantity) for line in lines] == [("P6-TEE-BLK-M", 2)]
    basket = lines[0].basket
    assert basket.total_excl_tax == Decimal("60.00")
    assert basket.currency == "USD"
    summary = client.get(reverse("basket:summary")).content.decode()
    assert "P6 Unisex T-shirt, Black, M" in summary and "$60.00" in summary


def test_basket_line_quantity_can_be_updated_and_removed(client, p6_catalogue):
    # given a basket with a tote bag and a pin
    _add(client, "P6-TOTE")
    _add(client, "P6-PIN")
    lines = _basket_lines(client)
    tote, pin = sorted(lines, key=lambda line: line.product.upc == "P6-PIN")
    formset = {
        "form-TOTAL_FORMS": "2", "form-INITIAL_FORMS": "2", "form-MIN_NUM_FORMS": "0", "form-MAX_NUM_FORMS": "1000",
        "form-0-id": tote.pk, "form-0-quantity": "3",
        "form-1-id": pin.pk, "form-1-quantity": "1", "form-1-DELETE": "on",
    }
    # when the fan sets the tote bag to 3 and removes the pin
    response = client.post(reverse("basket:summary"), formset, follow=True)
    # then only three tote bags remain: 60.00
    assert response.status_code == 200
    lines = _basket_lines(client)
    assert [(line.product.upc, line.quantity) for line in lines] == [("P6-TOTE", 3)]
    assert lines[0].basket.total_excl_tax == Decimal("60.00")


def test_an_out_of_stock_variant_cannot_be_added(client, p6_catalogue):
    # given the black M T-shirt is sold out
    StockRecord.objects.filter(partner_sku="P6-TEE-BLK-M").update(num_in_stock=0)
    # when a fan tries to add it
    response = _add(client, "P6-TEE-BLK-M")
    # then a clear message says why and the basket stays empty
    content = response.content.decode()
    assert "no stock available" in content.lower()
    assert _basket_lines(client) == []


def test_more_than_the_stock_cannot_be_added(client, p6_catalogue):
    StockRecord.objects.filter(partner_sku="P6-TOTE").update(num_in_stock=2)
    response = _add(client, "P6-TOTE", quantity=3)
    assert "a maximum of 2 can be bought" in response.content.decode().lower()
    assert _basket_lines(client) == []


def test_guest_checkout_reaches_the_payment_step(client, p6_catalogue):
    # given a basket with a hoodie
    _add(client, "P6-HOOD-NVY-L")
    # when a fan checks out as a guest and gives a shipping address
    response = client.post(reverse("checkout:index"), {"username": "fan@example.org", "options": "anonymous"})
    assert response.status_code == 302
    response = client.post(
        reverse("checkout:shipping-address"),
        {"first_name": "Ana", "last_name": "Fan", "line1": "1 Main St", "line4": "Boston", "state": "MA",
         "postcode": "02110", "country": "US", "phone_number": ""},
        follow=True,
    )
    # then the checkout goes on to the order preview, the step before payment, with the hoodie's total
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("checkout:preview")
    content = response.content.decode()
    assert "Place order" in content and "$58.00" in content
    assert response.wsgi_request.basket.total_excl_tax == Decimal("58.00")


def test_language_switcher_serves_french_and_russian(client, p6_catalogue):
    # when a fan picks French, then Russian
    response = client.post("/i18n/setlang/", {"language": "fr", "next": "/"}, follow=True)
    assert response.status_code == 200
    assert "Panier" in response.content.decode()
    response = client.post("/i18n/setlang/", {"language": "ru", "next": "/"}, follow=True)
    assert "Корзина" in response.content.decode()


def test_product_page_queries_do_not_grow_with_the_number_of_variants(client, p6_catalogue, settings):
    # given the T-shirt (18 variants) and the tank top (10 variants), each page visited once (caches warm),
    # and the page built for each request (as for a fan with a basket: shop/pagecache serves the others)
    settings.SHOP_PAGE_CACHE_SECONDS = 0
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from django.test import Client

    counts = {}
    for upc in ("P6-TEE", "P6-TANK"):
        client = Client()  # its own "recently viewed" history, which the page also shows
        url = Product.objects.get(upc=upc).get_absolute_url()
        client.get(url)
        # when each page is served again
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts[upc] = len(queries)
    # then both cost the same number of queries
    assert counts["P6-TEE"] == counts["P6-TANK"], counts
