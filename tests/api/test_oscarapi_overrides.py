"""What the schemathesis run found in django-oscar-api's views, answered by our overrides (shop/api/views/)."""

import pytest
from django.test import Client
from oscar.core.loading import get_model

from tests.api.conftest import api_place_order

pytestmark = pytest.mark.django_db

Category = get_model("catalogue", "Category")
LineAttribute = get_model("order", "LineAttribute")


def test_a_session_without_a_basket_lists_none(client):
    response = client.get("/api/baskets/")
    assert (response.status_code, response.json()) == (200, [])


def test_order_lines_are_their_customers_only(p6_catalogue, campaign, django_user_model):
    # given a customer's order, with an attribute on its line
    fan = django_user_model.objects.create_user(username="fan", email="fan@example.org", password="fan-pass-123")
    owner = Client()
    owner.force_login(fan)
    order, _ = api_place_order(owner)
    line = order.lines.get()
    attribute = LineAttribute.objects.create(line=line, type="engraving", value="for Ana")
    urls = [f"/api/orders/{order.pk}/lines/", f"/api/orderlines/{line.pk}/",
            f"/api/orderlineattributes/{attribute.pk}/"]
    # then its customer reads them
    assert [owner.get(url).status_code for url in urls] == [200, 200, 200]
    assert owner.get(urls[2]).json()["value"] == "for Ana"
    # and anyone else finds nothing (no 500 for an anonymous session; no attribute of another's order)
    stranger = django_user_model.objects.create_user(username="other", password="other-pass-123")
    anonymous, other = Client(), Client()
    other.force_login(stranger)
    for client in (anonymous, other):
        lines = client.get(urls[0])
        assert (lines.status_code, lines.json()) == (200, [])
        assert [client.get(url).status_code for url in urls[1:]] == [404, 404]


def test_nobody_rewrites_the_category_tree_over_the_api(client, staff_client):
    before = Category.objects.count()
    tree = [{"data": {"code": "pwned", "name": "Pwned"}}]
    for who in (client, staff_client):
        assert who.post("/api/categories-bulk/", tree, content_type="application/json").status_code == 403
        assert who.get("/api/categories-bulk/").status_code == 403
    assert Category.objects.count() == before


def test_a_body_that_is_not_an_object_is_a_400(client):
    basket = client.get("/api/basket/").json()
    for url in ("/api/checkout/", f"/api/baskets/{basket['id']}/lines/"):
        for body in ("[1, 2]", '"basket"', "0"):
            response = client.post(url, body, content_type="application/json")
            assert response.status_code == 400, (url, body, response.content)
            assert "non_field_errors" in response.json()


def test_api_login_failures_are_counted_and_locked_like_every_login(client, django_user_model, settings):
    # given a customer, and axes' limit of 5 failures per user name and address
    django_user_model.objects.create_user(username="fan", email="fan@example.org", password="right-pass-123")
    settings.AXES_FAILURE_LIMIT = 5
    # when a client guesses the password five times through the API
    for _ in range(5):
        response = client.post("/api/login/", {"username": "fan", "password": "guess"}, content_type="application/json")
        assert response.status_code in (401, 403, 400, 429)
    # then the sixth try, even with the right password, is refused (429) and nobody is logged in
    locked = client.post("/api/login/", {"username": "fan", "password": "right-pass-123"},
                         content_type="application/json")
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    from axes.models import AccessAttempt
    assert AccessAttempt.objects.get(username="fan").failures_since_start == 6  # the locked try counts too


def test_a_login_username_is_not_read_from_a_body_that_is_not_an_object(client):
    import base64
    auth = "Basic " + base64.b64encode(b":pw").decode()
    response = client.post("/api/baskets/", "[1, 2]", content_type="application/json", HTTP_AUTHORIZATION=auth)
    assert response.status_code < 500
