"""Our JSON endpoints give the pages' figures, and an order only to whoever may pay it."""

import re
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from shop.payments.models import PaymentAttempt
from tests.api.conftest import api_place_order
from tests.payments.conftest import place_order

pytestmark = pytest.mark.django_db


def test_the_product_donation_is_the_product_pages_figure(client, p6_catalogue, campaign):
    # given the black M T-shirt (30.00, unit cost 11.50) and the tote bag (a product without variants)
    tee = p6_catalogue.get(partner_sku="P6-TEE-BLK-M").product.parent
    tote = p6_catalogue.get(partner_sku="P6-TOTE").product
    for product in (tee, tote):
        # when the API and the product page are asked
        body = client.get(f"/api/p6/products/{product.pk}/donation/").json()
        page = client.get(product.get_absolute_url()).content.decode()
        # then they give the same share and amount
        shown = re.search(r'id="p6-donation">\s*([\d.]+)% .*?(?:about) \$([\d.]+) per item', page, re.S)
        assert shown, page[:3000]
        assert Decimal(body["share_percent"]) == Decimal(shown.group(1))
        assert Decimal(body["donation_per_item"]) == Decimal(shown.group(2))
        assert body["currency"] == "USD"
        assert body["product"] == product.pk
    assert client.get(f"/api/p6/products/{tote.pk}/donation/").json() == {
        "product": tote.pk, "share_percent": "50", "donation_per_item": "6.56", "currency": "USD",
        "is_from": False,
    }


def test_unknown_or_malformed_products_are_404(client, p6_catalogue):
    for pk in ("999999", "abc", "1" * 40):
        response = client.get(f"/api/p6/products/{pk}/donation/")
        assert response.status_code == 404
        assert "detail" in response.json()


def test_the_totals_are_the_transparency_json(client, p6_catalogue, campaign):
    # given some posted sales and a refund, so the totals are not all zero
    call_command("simulate_sales", "--orders", "5", "--seed", "3", "--refund-rate", "0.4", stdout=StringIO())
    api = client.get("/api/p6/totals/").json()
    page = client.get("/fundraising/totals.json").json()
    for body in (api, page):
        body.pop("generated_at")
    assert api == page
    assert api["schema"] == "p6-fundraising-totals/1"
    assert [section["currency"] for section in api["currencies"]] == ["USD"]
    assert Decimal(api["currencies"][0]["raised"]) > 0


def test_another_session_can_neither_pay_nor_read_an_order(p6_catalogue, campaign):
    # given a guest's order placed over the API, and a page order placed by another guest
    owner, stranger = Client(), Client()
    order, _ = api_place_order(owner)
    page_order, _ = place_order(Client())
    for number in (order.number, page_order.number):
        # when a stranger's session tries to pay or read it
        pay = stranger.post(f"/api/p6/orders/{number}/pay/", {"payment_method": "pm_card_visa"},
                            content_type="application/json")
        read = stranger.get(f"/api/p6/orders/{number}/donation/")
        # then it does not exist for them, and no attempt was made
        assert (pay.status_code, read.status_code) == (404, 404)
    assert not PaymentAttempt.objects.filter(order__in=[order, page_order]).exists()
    assert owner.get(f"/api/p6/orders/{order.number}/donation/").status_code == 200
    # and the API session cannot reach the page order either
    assert owner.get(f"/api/p6/orders/{page_order.number}/donation/").status_code == 404


def test_without_stripe_configured_paying_is_a_clear_503(p6_catalogue, campaign, settings):
    settings.STRIPE_SECRET_KEY = ""
    owner = Client()
    order, _ = api_place_order(owner)
    response = owner.post(f"/api/p6/orders/{order.number}/pay/", {"payment_method": "pm_card_visa"},
                          content_type="application/json")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "message": "Card payments are not available right now, so no "
                               "payment was taken. Please try again later."}


def test_bad_pay_requests_are_clear_4xx(p6_catalogue, campaign, stripe_peer):
    owner = Client()
    order, _ = api_place_order(owner)
    url = f"/api/p6/orders/{order.number}/pay/"
    cases = [
        ({}, 400, "invalid"),
        ({"payment_method": ""}, 400, "invalid"),
        ({"payment_method": 42}, 400, "invalid"),
        ({"payment_method": "pm_" + "x" * 300}, 400, "invalid"),
        ({"intent": "pi_not_ours"}, 409, "not_payable"),
    ]
    for data, code, status in cases:
        response = owner.post(url, data, content_type="application/json")
        assert (response.status_code, response.json()["status"]) == (code, status), data
        assert response.json()["message"]
    broken = owner.post(url, "{not json", content_type="application/json")
    assert (broken.status_code, broken.json()["status"]) == (400, "invalid")
    assert owner.post(url, "x", content_type="text/plain").status_code == 415
    assert owner.post("/api/p6/orders/%00/pay/", {}, content_type="application/json").status_code == 400  # middleware
