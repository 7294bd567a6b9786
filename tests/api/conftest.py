"""Fixtures for the headless API: a guest's purchase through django-oscar-api, with its own session."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from oscar.core.loading import get_model

from tests.payments.conftest import localstripe_peer, localstripe_url, stripe_peer  # noqa: F401  (fixtures)

StockRecord = get_model("partner", "StockRecord")
Order = get_model("order", "Order")

ADDRESS = {
    "first_name": "Ana", "last_name": "Fan", "line1": "1 Main St", "line4": "Boston", "state": "MA",
    "postcode": "02110",
}


@pytest.fixture
def campaign(db):
    call_command("load_p6_fundraising", stdout=StringIO())


@pytest.fixture
def api_client():
    """A headless client: a cookie jar, JSON in and out, no browser."""
    return Client()


def api_place_order(client, *, skus=(("P6-TEE-BLK-M", 1),), email="fan@example.org"):
    """A guest's checkout over the API: basket, add products, checkout with a shipping address. Returns the
    order (Pending payment) and oscarapi's JSON answer."""
    basket = client.get("/api/basket/").json()
    for sku, quantity in skus:
        record = StockRecord.objects.get(partner_sku=sku)
        response = client.post("/api/basket/add-product/", {
            "url": f"http://testserver/api/products/{record.product_id}/", "quantity": quantity,
        }, content_type="application/json")
        assert response.status_code == 200, response.content[:2000]
    response = client.post("/api/checkout/", {
        "basket": basket["url"],
        "guest_email": email,
        "shipping_address": {**ADDRESS, "country": "http://testserver/api/countries/US/"},
    }, content_type="application/json")
    assert response.status_code == 200, response.content[:2000]
    body = response.json()
    return Order.objects.get(number=body["number"]), body
