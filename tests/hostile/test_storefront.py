"""Hostile input on the storefront (issue 6): every request answers a clear 4xx or a form error and
writes nothing (row counts before and after).

Quantities (negative, zero, huge, not a number) on basket add and basket update; tampered product,
child, stock record and price fields; a missing CSRF token; another customer's order in the account
pages and the pay page; a guest order looked up without its email or with a wrong hash.
"""

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from oscar.core.loading import get_model

from tests.payments.conftest import place_order

Basket = get_model("basket", "Basket")
Line = get_model("basket", "Line")
Order = get_model("order", "Order")
StockRecord = get_model("partner", "StockRecord")
Product = get_model("catalogue", "Product")

TEE = "P6-TEE-BLK-M"  # 30.00
PIN = "P6-PIN"


def _record(sku):
    return StockRecord.objects.select_related("product").get(partner_sku=sku)


def _add_data(sku, quantity=1):
    product = _record(sku).product
    data = {"quantity": quantity}
    if product.parent_id:
        data["child_id"] = product.pk
        product = product.parent
    return reverse("basket:add", kwargs={"pk": product.pk}), data


def _rows():
    return {
        "baskets": sorted(Basket.objects.values_list("pk", "status")),
        "lines": sorted(Line.objects.values_list("pk", "product_id", "stockrecord_id", "quantity", "price_excl_tax")),
        "orders": sorted(Order.objects.values_list("number", "status")),
        "allocated": sorted(StockRecord.objects.values_list("pk", "num_in_stock", "num_allocated")),
    }


def _messages(response):
    return " ".join(str(m) for m in response.context["messages"]) if response.context else ""


@pytest.mark.parametrize("quantity, message", [
    ("-1", "ensure this value is greater than or equal to 1"),
    ("0", "ensure this value is greater than or equal to 1"),
    ("1000000000", "not able to ship more than 10000 items"),
    ("99999999999999999999999999", "not able to ship more than 10000 items"),
    ("abc", "enter a whole number"),
    ("1.5", "enter a whole number"),
    ("", "this field is required"),
])
def test_basket_add_with_a_bad_quantity_is_refused_with_a_message_and_writes_nothing(client, p6_catalogue,
                                                                                     quantity, message):
    url, data = _add_data(TEE, quantity)
    before = _rows()
    response = client.post(url, data, follow=True)
    assert response.status_code == 200
    assert message in _messages(response).lower(), _messages(response)
    assert _rows() == before


@pytest.mark.parametrize("quantity, message", [
    ("-5", "ensure this value is greater than or equal to 0"),
    ("1000000000", "a maximum of"),
    ("abc", "enter a whole number"),
])
def test_basket_update_with_a_bad_quantity_is_refused_with_a_message_and_writes_nothing(client, p6_catalogue,
                                                                                        quantity, message):
    url, data = _add_data(TEE, 2)
    client.post(url, data)
    line = Line.objects.get()
    before = _rows()
    response = client.post(reverse("basket:summary"), {
        "form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-MIN_NUM_FORMS": "0", "form-MAX_NUM_FORMS": "1000",
        "form-0-id": line.pk, "form-0-quantity": quantity,
    }, follow=True)
    assert response.status_code == 200
    text = (_messages(response) + " " + response.content.decode()).lower()
    assert message in text
    assert _rows() == before
    assert Line.objects.get().quantity == 2


def test_basket_update_of_a_line_of_another_basket_changes_nothing(client, p6_catalogue):
    # given another fan's basket line, and ours
    other = Client()
    url, data = _add_data(PIN, 1)
    other.post(url, data)
    their_line = Line.objects.get()
    url, data = _add_data(TEE, 1)
    client.post(url, data)
    before = _rows()
    # when we post an update naming their line
    response = client.post(reverse("basket:summary"), {
        "form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-MIN_NUM_FORMS": "0", "form-MAX_NUM_FORMS": "1000",
        "form-0-id": their_line.pk, "form-0-quantity": "7",
    }, follow=True)
    # then it is a form error and their line is untouched
    assert response.status_code == 200
    assert "select a valid choice" in response.content.decode().lower() or _rows() == before
    assert _rows() == before


def test_a_product_id_that_does_not_exist_is_404_and_writes_nothing(client, p6_catalogue):
    before = _rows()
    missing = (Product.objects.order_by("-pk").first().pk or 0) + 1000
    assert client.post(reverse("basket:add", kwargs={"pk": missing}), {"quantity": 1}).status_code == 404
    assert _rows() == before


def test_a_child_of_another_product_is_refused_and_writes_nothing(client, p6_catalogue):
    # given the T-shirt's page, and a hoodie variant's id put in its child_id field
    tee = _record(TEE).product
    hoodie_variant = _record("P6-HOOD-NVY-L").product
    before = _rows()
    response = client.post(reverse("basket:add", kwargs={"pk": tee.parent_id}),
                           {"quantity": 1, "child_id": hoodie_variant.pk}, follow=True)
    assert response.status_code == 200
    assert "select a valid choice" in _messages(response).lower()
    assert _rows() == before


@pytest.mark.parametrize("child_id", ["abc", "-1", "99999999", "1 OR 1=1", "<script>alert(1)</script>"])
def test_a_tampered_child_id_is_refused_and_writes_nothing(client, p6_catalogue, child_id):
    tee = _record(TEE).product
    before = _rows()
    response = client.post(reverse("basket:add", kwargs={"pk": tee.parent_id}),
                           {"quantity": 1, "child_id": child_id}, follow=True)
    assert response.status_code == 200
    assert "select a valid" in _messages(response).lower(), _messages(response)
    assert "<script>alert(1)</script>" not in response.content.decode()
    assert _rows() == before


def test_price_and_stock_record_fields_in_the_post_are_ignored(client, p6_catalogue):
    # given a post that also says which stock record to use and what price to pay
    url, data = _add_data(TEE, 1)
    cheap = _record(PIN)
    data.update({"stockrecord": cheap.pk, "stockrecord_id": cheap.pk, "price": "0.01", "price_excl_tax": "0.01",
                 "price_incl_tax": "0.01", "price_currency": "XXX"})
    # when it is posted, then the line is the T-shirt's, at the T-shirt's price, from its own stock record
    client.post(url, data)
    line = Line.objects.get()
    assert (line.stockrecord_id, line.price_excl_tax, line.price_currency) == (_record(TEE).pk, Decimal("30.00"),
                                                                                "USD")


def test_posts_without_a_csrf_token_are_refused_and_write_nothing(p6_catalogue, stripe_peer):
    # given a fan with a placed order, in a browser that checks CSRF like a real one
    fan = Client(enforce_csrf_checks=True)
    order, _ = place_order(Client())
    url, data = _add_data(TEE, 1)
    before = _rows()
    # when posts arrive without the token: basket add, checkout, the payment, the login form
    answers = [
        fan.post(url, data).status_code,
        fan.post(reverse("checkout:index"), {"username": "x@example.org", "options": "anonymous"}).status_code,
        fan.post(reverse("checkout:pay", kwargs={"order_number": order.number}),
                 {"payment_method": "pm_card_visa"}).status_code,
        fan.post(reverse("customer:login"), {"login-username": "a@example.org", "login-password": "x",
                                             "login_submit": "1"}).status_code,
    ]
    # then each is forbidden and nothing is written
    assert answers == [403, 403, 403, 403]
    assert _rows() == before


def test_another_customers_order_is_404_in_the_account_pages_and_the_pay_page(client, p6_catalogue, stripe_peer,
                                                                             django_user_model):
    # given Ana's order, placed from her account
    ana = django_user_model.objects.create_user(username="ana", email="ana@example.org", password="x-pass-12345")
    ana_client = Client()
    ana_client.force_login(ana)
    order, _ = place_order(ana_client)
    assert order.user_id == ana.pk
    # when Bob, signed in, opens or pays it by its number
    bob = django_user_model.objects.create_user(username="bob", email="bob@example.org", password="x-pass-12345")
    client.force_login(bob)
    before = _rows()
    pay_url = reverse("checkout:pay", kwargs={"order_number": order.number})
    answers = [
        client.get(reverse("customer:order", kwargs={"order_number": order.number})).status_code,
        client.get(pay_url).status_code,
        client.post(pay_url, {"payment_method": "pm_card_visa"}).status_code,
        client.post(reverse("customer:order-line", kwargs={"order_number": order.number,
                                                           "line_id": order.lines.get().pk}),
                    {"action": "reorder"}).status_code,
    ]
    # then each is 404, as for an order that does not exist, and nothing is written
    assert answers == [404, 404, 404, 404]
    assert _rows() == before
    assert ana_client.get(reverse("customer:order", kwargs={"order_number": order.number})).status_code == 200


def test_a_guest_order_cannot_be_read_without_its_email_or_with_a_wrong_hash(client, p6_catalogue, stripe_peer):
    # given a guest's order
    order, _ = place_order(Client(), email="guest@example.org")
    good = reverse("customer:anon-order", kwargs={"order_number": order.number,
                                                  "hash": order.verification_hash()})
    bad = reverse("customer:anon-order", kwargs={"order_number": order.number, "hash": "0:wronghash"})
    before = _rows()
    # when someone else opens the link without the email, then they are asked for it and see nothing of the order
    response = client.get(good, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0].startswith("/accounts/order-status-form/")
    assert "1 Main St" not in response.content.decode()
    # when they guess the email wrong, then it is a form error
    form_url = response.redirect_chain[-1][0]
    response = client.post(form_url, {"email": "someone@example.org"})
    assert response.status_code == 200
    assert "Order not found" in response.content.decode()
    # when they have the email but a wrong hash, then it is a form error too
    response = client.post(reverse("customer:anon-order-form", kwargs={"order_number": order.number,
                                                                       "hash": "0:wronghash"}),
                           {"email": "guest@example.org"})
    assert "Order not found" in response.content.decode()
    assert "1 Main St" not in client.get(bad, follow=True).content.decode()
    assert _rows() == before
