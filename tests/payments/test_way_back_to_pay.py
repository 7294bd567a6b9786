"""A fan who left the payment page comes back and pays (issue 12, part 3), and a refused card is told in the
fan's language and plain words (part 4), against the Stripe-shaped fake: one charge, one sale."""

import re
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from oscar.core.loading import get_model

from fundraising.models import LedgerTransaction
from fundraising.verification import ledger_violations
from shop.payments.models import ExcessPayment, PaymentAttempt
from tests.payments.conftest import place_order

Order = get_model("order", "Order")
Source = get_model("payment", "Source")

pytestmark = pytest.mark.django_db

TOTAL = Decimal("30.00")



def _pay(client, order, lang="en", **data):
    return client.post(reverse("checkout:pay", kwargs={"order_number": order.number}), data,
                       HTTP_ACCEPT="application/json", HTTP_ACCEPT_LANGUAGE=lang)


def _assert_charged_once(fake, order):
    """One succeeded charge at Stripe, the booked one; the order Paid for its total; one sale; a clean ledger."""
    order.refresh_from_db()
    charges = [c for c in fake.objects("charge") if c["metadata"].get("order_number") == str(order.number)]
    [charge] = [c for c in charges if c["status"] == "succeeded"]
    assert charge["payment_intent"] == PaymentAttempt.objects.get(order=order, booked=True).intent_id
    assert (order.status, Source.objects.get(order=order).amount_debited) == ("Paid", TOTAL)
    assert ExcessPayment.objects.filter(order=order).count() == 0
    assert LedgerTransaction.objects.filter(order=order, kind="sale").count() == 1
    assert list(ledger_violations()) == []


def test_a_customer_leaves_the_payment_page_and_pays_from_the_account_order_page(
        client, p6_catalogue, campaign, fake_stripe, django_user_model, django_capture_on_commit_callbacks):
    # given a signed-in fan who placed an order and left the payment page (the basket is empty now)
    ana = django_user_model.objects.create_user(username="ana", email="ana@example.org", password="x-pass-12345")
    client.force_login(ana)
    order, _ = place_order(client)
    client.get(reverse("p6-home"))
    # when they come back through their account
    listing = client.get(reverse("customer:order-list")).content.decode()
    order_page = reverse("customer:order", kwargs={"order_number": order.number})
    assert order_page in listing and "Waiting for payment" in listing
    page = client.get(order_page).content.decode()
    pay = re.search(r'<a href="([^"]+)" class="btn btn-primary btn-lg" id="p6-complete-payment">', page).group(1)
    assert pay == reverse("checkout:pay", kwargs={"order_number": order.number})
    assert 'id="payment-form"' in client.get(pay).content.decode()
    # and pay with a card
    with django_capture_on_commit_callbacks(execute=True):
        answer = _pay(client, order, payment_method="pm_card_visa")
    # then it is paid once, and the account shows it paid, with nothing left to pay
    assert (answer.status_code, answer.json()["status"]) == (200, "succeeded")
    _assert_charged_once(fake_stripe, order)
    page = client.get(order_page).content.decode()
    assert "Complete payment" not in page and "not paid yet" not in page
    # and the fan got two emails: the way back to pay, then the confirmation
    assert [m.subject for m in mail.outbox] == [f"Order {order.number}: complete your payment",
                                                f"Confirmation of order {order.number}"]


def test_a_guest_leaves_the_payment_page_and_pays_from_the_email_link_in_a_new_browser(
        p6_catalogue, campaign, fake_stripe, django_capture_on_commit_callbacks):
    # given a guest who placed an order, tried a card that was refused, and closed the browser
    first_browser = Client()
    order, _ = place_order(first_browser, email="guest@example.org")
    declined = _pay(first_browser, order, payment_method="pm_card_chargeDeclined")
    assert (declined.status_code, declined.json()["status"]) == (402, "declined")
    # when they open the order email's link in another browser
    [email] = mail.outbox
    link = re.search(r"Complete payment: http://example\.com(\S+)", email.body).group(1)
    browser = Client()
    assert browser.get(link, follow=True).status_code == 200
    # and pay with another card
    with django_capture_on_commit_callbacks(execute=True):
        answer = _pay(browser, order, payment_method="pm_card_visa")
    # then the order is paid once: one succeeded charge (the refused one charged nothing), one sale
    assert (answer.status_code, answer.json()["status"]) == (200, "succeeded")
    _assert_charged_once(fake_stripe, order)
    assert [a.status for a in PaymentAttempt.objects.filter(order=order).order_by("number")] == [
        "canceled", "succeeded"]  # the refused intent was cancelled at Stripe before the next was made
    # and the link now leads to the order's status, not to a second payment
    again = Client().get(link, follow=True)
    assert again.redirect_chain[-1][0].startswith("/accounts/order-status-form/")
    assert _pay(browser, order, payment_method="pm_card_visa").status_code == 409
    _assert_charged_once(fake_stripe, order)


@pytest.mark.parametrize("lang", ["fr", "ru"])
@pytest.mark.parametrize("card, english", [
    ("pm_card_chargeDeclined",
     "Your card was declined, so no payment was taken. Please try another card, or ask your bank."),
    ("pm_card_chargeDeclinedInsufficientFunds",
     "Your card was declined because there is not enough money on it. No payment was taken. "
     "Please try another card."),
])
def test_a_refused_card_is_told_in_the_fans_language_and_the_order_stays_payable(
        client, placed_order, fake_stripe, lang, card, english):
    response = _pay(client, placed_order, payment_method=card, lang=lang)
    assert (response.status_code, response.json()["status"]) == (402, "declined")
    message = response.json()["message"]
    with translation.override(lang):
        assert message == gettext(english)
    assert message != english and "Your card" not in message  # ours, translated: not Stripe's English
    assert Order.objects.get(pk=placed_order.pk).status == "Pending payment"


@pytest.mark.parametrize("lang", ["fr", "ru"])
def test_a_failed_3d_secure_is_told_in_the_fans_language(client, placed_order, fake_stripe, lang):
    started = _pay(client, placed_order, payment_method="pm_card_threeDSecure2Required", lang=lang)
    intent = started.json()["intent"]
    fake_stripe.complete_3ds(intent, success=False)
    response = _pay(client, placed_order, intent=intent, lang=lang)
    assert response.json()["status"] == "declined"
    with translation.override(lang):
        assert response.json()["message"] == gettext(
            "Your bank's security check (authentication) did not succeed, so no payment was taken. "
            "Please try again, or use another card.")
    assert "PaymentMethod" not in response.json()["message"]


def test_a_refused_card_on_the_plain_form_and_the_api_reads_the_same(client, placed_order, fake_stripe):
    page = client.post(reverse("checkout:pay", kwargs={"order_number": placed_order.number}),
                       {"payment_method": "pm_card_chargeDeclinedInsufficientFunds"}, HTTP_ACCEPT_LANGUAGE="fr")
    assert page.status_code == 402
    with translation.override("fr"):
        expected = gettext("Your card was declined because there is not enough money on it. No payment was taken. "
                           "Please try another card.")
    assert expected.replace("'", "&#x27;") in page.content.decode()
    api = client.post(f"/api/p6/orders/{placed_order.number}/pay/", {"payment_method": "pm_card_chargeDeclined"},
                      content_type="application/json", HTTP_ACCEPT_LANGUAGE="ru")
    assert api.status_code == 402
    with translation.override("ru"):
        assert api.json()["message"] == gettext(
            "Your card was declined, so no payment was taken. Please try another card, or ask your bank.")
