"""Security settings (issue 6): login throttling on the customer, dashboard and admin logins
(django-axes), and no secret or raw webhook payload in the logs at INFO or above.

`manage.py check --deploy` with the production settings is tests/shop/test_settings.py.
"""

import json
import logging

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.payments.conftest import WEBHOOK_SECRET
from tests.payments.events import intent_event, paid_at_stripe_only, signed_post
from tests.stripe_peer import TEST_SECRET_KEY

LOGINS = {
    "customer": ("/accounts/login/", "login-username", "login-password", {"login_submit": "1"}),
    "dashboard": ("/dashboard/login/", "username", "password", {}),
    "admin": ("/admin/login/", "username", "password", {}),
}


@pytest.fixture
def ana(django_user_model):
    return django_user_model.objects.create_user(username="ana", email="ana@example.org", password="right-pass-123",
                                                 is_staff=True, is_superuser=True)


def _login(client, where, username, password):
    url, user_field, password_field, extra = LOGINS[where]
    return client.post(url, {user_field: username, password_field: password, **extra})


@pytest.mark.parametrize("where", list(LOGINS))
def test_repeated_failed_logins_lock_the_account_out(db, ana, where):
    client = Client()
    username = "ana@example.org" if where == "customer" else "ana"
    # given the limit of failed logins with a wrong password
    answers = [_login(client, where, username, "wrong-pass").status_code for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert 429 not in answers[:-1]
    # when the right password comes next
    locked = _login(client, where, username, "right-pass-123")
    # then it is refused (429) and nobody is signed in
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    # and from another address the account still signs in (the pair user name and address is locked)
    elsewhere = Client(REMOTE_ADDR="10.0.0.2")
    assert _login(elsewhere, where, username, "right-pass-123").status_code == 302


def test_a_successful_login_before_the_limit_resets_the_count(db, ana):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "customer", "ana@example.org", "wrong-pass")
    assert _login(client, "customer", "ana@example.org", "right-pass-123").status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, "customer", "ana@example.org", "wrong-pass").status_code == 200
    assert _login(client, "customer", "ana@example.org", "right-pass-123").status_code == 302


def test_no_secret_and_no_raw_payload_is_logged_during_a_payment_and_a_webhook(client, placed_order, stripe_peer,
                                                                              gateway, caplog):
    caplog.set_level(logging.INFO)
    # when a fan pays one order, and Stripe's event for another payment arrives, twice, plus a forged one
    pay_url = reverse("checkout:pay", kwargs={"order_number": placed_order.number})
    assert client.post(pay_url, {"payment_method": "pm_card_visa"},
                       HTTP_ACCEPT="application/json").json()["status"] == "succeeded"
    from tests.payments.conftest import place_order

    other, _ = place_order(Client(), email="other@example.org")
    intent = paid_at_stripe_only(gateway, other)
    evt = intent_event(stripe_peer.url, "payment_intent.succeeded", intent.id)
    assert signed_post(client, evt).status_code == 200
    assert signed_post(client, evt).status_code == 200
    assert signed_post(client, evt, secret="whsec_forged").status_code == 400

    # then what was logged at INFO or above names neither secret nor the payload
    logged = "\n".join(
        record.getMessage() + (record.exc_text or "") for record in caplog.records if record.levelno >= logging.INFO
    )
    assert logged, "nothing was logged: the capture is not working"
    for secret in (WEBHOOK_SECRET, TEST_SECRET_KEY, settings.SECRET_KEY, intent.client_secret or "cs-none"):
        assert secret not in logged
    assert json.dumps(evt) not in logged
    assert json.dumps(evt["data"]["object"]) not in logged
    assert "whsec_forged" not in logged


def test_registering_still_signs_the_new_customer_in(db, client):
    # Oscar authenticates the new account without a request: the throttling backend must let it through
    response = client.post("/accounts/login/", {
        "registration-email": "new@example.org", "registration-password1": "a-long-pass-9876",
        "registration-password2": "a-long-pass-9876", "registration_submit": "1",
    })
    assert response.status_code == 302, response.content.decode()[:500]
    assert client.session.get("_auth_user_id")
