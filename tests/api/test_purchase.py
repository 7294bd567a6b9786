"""A purchase over the headless API posts the same donation as one through the pages."""

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from fundraising.models import Entry, LedgerTransaction, OrderLineBreakdown
from tests.api.conftest import Order, api_place_order
from tests.payments.conftest import place_order
from tests.stripe_peer import create_card_payment_method

pytestmark = pytest.mark.django_db

SKUS = (("P6-TEE-BLK-M", 2), ("P6-TOTE", 1))


def _sale_entries(order):
    sale = LedgerTransaction.objects.get(order=order, kind=LedgerTransaction.Kind.SALE)
    return sorted((e.account_id, e.debit, e.credit) for e in Entry.objects.filter(transaction=sale))


def test_an_api_purchase_posts_the_same_donation_as_a_page_purchase(p6_catalogue, campaign, stripe_peer):
    # given the same basket, placed once through the pages and once over the API
    page_client, api_client = Client(), Client()
    page_order, _ = place_order(page_client, skus=SKUS)
    api_order, body = api_place_order(api_client, skus=SKUS)
    # then the API order is placed like a storefront order: pending, donation snapshot taken
    assert body["status"] == "Pending payment"
    assert api_order.status == "Pending payment"
    assert api_order.total_incl_tax == page_order.total_incl_tax == Decimal("80.00")
    assert OrderLineBreakdown.objects.filter(order=api_order).count() == 2
    # and nothing is posted before payment
    url = f"/api/p6/orders/{api_order.number}/donation/"
    assert api_client.get(url).json() == {
        "number": api_order.number, "status": "Pending payment", "posted": False, "donation": None,
        "currency": "USD",
    }

    # when both are paid with the same card
    assert page_client.post(reverse("checkout:pay", kwargs={"order_number": page_order.number}),
                            {"payment_method": "pm_card_visa"}).status_code == 302
    response = api_client.post(f"/api/p6/orders/{api_order.number}/pay/", {"payment_method": "pm_card_visa"},
                               content_type="application/json")

    # then the API says so, and the sale posts exactly the page's entries: 24.20 donated (the fee estimated
    # from the schedule, as localstripe reports none it really took), split three ways
    assert response.status_code == 200
    assert response.json() == {"status": "succeeded", "message": ""}
    api_order.refresh_from_db()
    assert api_order.status == "Paid"
    assert _sale_entries(api_order) == _sale_entries(page_order)
    credits = sorted(e.credit for e in Entry.objects.filter(transaction__order=api_order, credit__gt=0))
    assert sum(credits) == Decimal("24.20") and len(credits) == 3
    assert api_client.get(url).json() == {
        "number": api_order.number, "status": "Paid", "posted": True, "donation": "24.20", "currency": "USD",
    }
    # and paying again is refused, without a new attempt
    again = api_client.post(f"/api/p6/orders/{api_order.number}/pay/", {"payment_method": "pm_card_visa"},
                            content_type="application/json")
    assert again.status_code == 409
    assert again.json()["status"] == "not_payable"
    assert LedgerTransaction.objects.filter(order=api_order).count() == 1


def test_an_api_checkout_locks_stock_like_the_storefront(p6_catalogue, campaign):
    # given a variant with 1 unit left
    record = p6_catalogue.get(partner_sku="P6-TEE-BLK-M")
    record.num_in_stock = (record.num_allocated or 0) + 1
    record.save()
    client = Client()
    client.get("/api/basket/")
    basket = client.get("/api/basket/").json()
    client.post("/api/basket/add-product/", {"url": f"http://testserver/api/products/{record.product_id}/",
                                             "quantity": 1}, content_type="application/json")
    # when someone else buys it first (through the pages)
    place_order(Client(), skus=(("P6-TEE-BLK-M", 1),))
    before = Order.objects.count()
    # then the API checkout is refused with a message, and no order is written
    response = client.post("/api/checkout/", {
        "basket": basket["url"], "guest_email": "late@example.org",
        "shipping_address": {"first_name": "Bo", "last_name": "Late", "line1": "2 Main St", "line4": "Boston",
                             "state": "MA", "postcode": "02110", "country": "http://testserver/api/countries/US/"},
    }, content_type="application/json")
    assert response.status_code == 406
    assert "out of stock" in response.json()["detail"]
    assert Order.objects.count() == before


def test_a_3ds_card_answers_requires_action_with_the_client_secret(p6_catalogue, campaign, stripe_peer):
    client = Client()
    order, _ = api_place_order(client)
    payment_method = create_card_payment_method(stripe_peer.url, "4000002500003155")
    response = client.post(f"/api/p6/orders/{order.number}/pay/", {"payment_method": payment_method},
                           content_type="application/json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "requires_action"
    assert body["client_secret"].startswith(body["intent"])
    order.refresh_from_db()
    assert order.status == "Pending payment"
