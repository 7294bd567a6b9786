"""Checkout steps that tell the truth, and the way back to an unpaid order's payment page (issue 12, parts 3
and 4), through the real views: no money moves here (tests/payments/test_way_back_to_pay.py pays)."""

import re
from decimal import Decimal
from html.parser import HTMLParser
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.test import TestCase
from django.urls import reverse
from django.utils import translation
from oscar.core.loading import get_model

from shop.checkout.declines import decline_message
from shop.payments import services as payments
from tests.payments.conftest import place_order

Order = get_model("order", "Order")
Basket = get_model("basket", "Basket")
StockRecord = get_model("partner", "StockRecord")

pytestmark = pytest.mark.django_db

STEPS = ["1. Shipping address", "2. Shipping method", "3. Preview", "4. Payment", "5. Confirmation"]
PLACEHOLDER = "Payment details to go here"


@pytest.fixture
def campaign(db):
    call_command("load_p6_fundraising", stdout=StringIO())


class _Steps(HTMLParser):
    """[(label, classes, is_link)] of the checkout nav's steps (ul#checkout-steps)."""

    def __init__(self):
        super().__init__()
        self.steps, self.depth, self.current = [], 0, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "ul" and attrs.get("id") == "checkout-steps":
            self.depth = 1
        elif self.depth and tag == "li":
            self.current = {"classes": set(attrs.get("class", "").split()), "text": "", "link": False}
            self.steps.append(self.current)
        elif self.current is not None and tag == "a":
            self.current["link"] = True

    def handle_endtag(self, tag):
        if tag == "ul" and self.depth:
            self.depth = 0
            self.current = None

    def handle_data(self, data):
        if self.current is not None:
            self.current["text"] += data


def steps(html):
    parser = _Steps()
    parser.feed(html)
    return [(" ".join(s["text"].split()), s["classes"] & {"active", "visited", "disabled"}, s["link"])
            for s in parser.steps]


def active_step(html):
    [label] = [label for label, classes, _ in steps(html) if "active" in classes]
    return label


def _to_preview(client):
    """A guest's checkout up to the preview; returns the shipping-address page's HTML on the way."""
    record = StockRecord.objects.select_related("product").get(partner_sku="P6-TEE-BLK-M")
    client.post(reverse("basket:add", kwargs={"pk": record.product.parent_id}),
                {"quantity": 1, "child_id": record.product_id})
    client.post(reverse("checkout:index"), {"username": "fan@example.org", "options": "anonymous"})
    address_page = client.get(reverse("checkout:shipping-address")).content.decode()
    client.post(reverse("checkout:shipping-address"), {
        "first_name": "Ana", "last_name": "Fan", "line1": "1 Main St", "line4": "Boston", "state": "MA",
        "postcode": "02110", "country": "US"})
    client.get(reverse("checkout:shipping-method"))
    return address_page


def _text(response):
    return " ".join(response.content.decode().split())


# --- the steps --------------------------------------------------------------------------------------


def test_the_steps_read_in_the_order_they_happen_and_each_page_highlights_its_own(client, p6_catalogue):
    # given a guest going through the checkout
    address_page = _to_preview(client)
    preview_page = client.get(reverse("checkout:preview")).content.decode()
    order, response = place_order_from_preview(client)
    pay_page = client.get(response["Location"]).content.decode()
    thank_you = client.get(reverse("checkout:thank-you")).content.decode()
    # then every page lists the same five steps, in the order they happen
    for html in (address_page, preview_page, pay_page, thank_you):
        assert [label for label, _, _ in steps(html)] == STEPS
    # and each highlights its own: the card is asked for on "4. Payment", after the preview
    assert [active_step(html) for html in (address_page, preview_page, pay_page, thank_you)] == [
        "1. Shipping address", "3. Preview", "4. Payment", "5. Confirmation"]
    # and on the preview only the steps before it are done (and editable); payment is still to come
    assert steps(preview_page) == [
        ("1. Shipping address", {"visited"}, True), ("2. Shipping method", {"visited"}, True),
        ("3. Preview", {"active"}, False), ("4. Payment", {"disabled"}, False),
        ("5. Confirmation", {"disabled"}, False)]
    # and once the order is placed, its earlier steps are done and no longer links
    assert steps(pay_page) == [
        ("1. Shipping address", {"visited"}, False), ("2. Shipping method", {"visited"}, False),
        ("3. Preview", {"visited"}, False), ("4. Payment", {"active"}, False),
        ("5. Confirmation", {"disabled"}, False)]


def place_order_from_preview(client):
    with TestCase.captureOnCommitCallbacks(execute=True):  # the order-placed email leaves after the commit
        response = client.post(reverse("checkout:preview"), {"action": "place_order"})
    assert response.status_code == 302, response.content[:2000]
    return Order.objects.order_by("-pk").first(), response


def test_the_preview_and_the_pay_page_have_no_payment_placeholder_and_no_change_link_for_payment(
        client, p6_catalogue):
    _to_preview(client)
    preview = client.get(reverse("checkout:preview"))
    html = preview.content.decode()
    assert preview.status_code == 200
    assert PLACEHOLDER not in html
    assert reverse("checkout:payment-details") not in html
    assert "You pay by card on the next step, once the order is placed. Nothing is charged before then." in html
    _, response = place_order_from_preview(client)
    pay_page = client.get(response["Location"]).content.decode()
    assert PLACEHOLDER not in pay_page and reverse("checkout:payment-details") not in pay_page


def test_the_pay_page_says_what_is_paid_and_the_expected_donation(client, p6_catalogue, campaign, settings):
    settings.STRIPE_FEE_PERCENT, settings.STRIPE_FEE_FIXED = Decimal("2.9"), Decimal("0.30")
    order, response = place_order(client)
    page = _text(client.get(response["Location"]))
    assert f"You are paying $30.00 for order {order.number}." in page
    # (30.00 - 11.50 unit cost - 1.17 fee) x 50 % = 8.665 -> 8.67, the preview's and the product page's figure
    assert "Expected donation to Russian LGBT groups from this order: about $8.67 (50% of the profit" in page


def test_the_pay_page_of_a_cancelled_order_says_so_and_offers_the_shop(client, p6_catalogue):
    order, response = place_order(client)
    assert payments.cancel_unpaid_order(order=order, gateway=object()) == "cancelled"
    page = _text(client.get(response["Location"]))
    assert 'id="payment-form"' not in page
    assert "This order was cancelled before it was paid, so no payment was taken and nothing will be sent." in page


# --- the way back: the email ------------------------------------------------------------------------


def test_placing_an_order_emails_the_guest_a_complete_payment_link_that_works_in_another_browser(
        client, p6_catalogue, campaign):
    # when a guest places an order
    order, response = place_order(client, email="guest@example.org")
    # then one email, saying the order waits for its money, with the payment link carrying the order's hash
    [message] = mail.outbox
    assert message.to == ["guest@example.org"]
    assert message.subject == f"Order {order.number}: complete your payment"
    body = " ".join(message.body.split())
    assert (f"Your order {order.number} is placed, but it is not paid yet: $30.00 is still to pay. "
            "Nothing has been charged.") in body
    assert "pleased to confirm" not in body
    link = re.search(r"Complete payment: (\S+)", body).group(1)
    path = link.split("example.com", 1)[1]
    assert path.startswith(reverse("checkout:pay", kwargs={"order_number": order.number}) + "?h=")
    html = message.alternatives[0][0]
    assert f'href="{link}"' in html.replace("&amp;", "&")
    assert "Once paid, it is expected to give about $8.67 to Russian LGBT groups." in " ".join(html.split())
    # when the guest opens it in another browser (a new session)
    other = Client()
    opened = other.get(path)
    # then the hash is remembered in that session and dropped from the address, and the page takes the card
    assert opened.status_code == 302 and opened["Location"] == reverse("checkout:pay",
                                                                        kwargs={"order_number": order.number})
    page = other.get(opened["Location"])
    assert page.status_code == 200 and 'id="payment-form"' in page.content.decode()


def test_the_order_link_opens_no_other_order(client, p6_catalogue, django_user_model):
    # given two guests' orders and an account's order
    mine, _ = place_order(Client(), email="a@example.org")
    theirs, _ = place_order(Client(), email="b@example.org")
    ana = django_user_model.objects.create_user(username="ana", email="ana@example.org", password="x-pass-12345")
    ana_client = Client()
    ana_client.force_login(ana)
    account_order, _ = place_order(ana_client)
    stranger = Client()

    def pay_page(order, h):
        return stranger.get(reverse("checkout:pay", kwargs={"order_number": order.number}), {"h": h})

    # then my hash does not open their order, a forged hash opens nothing, and an account order's own hash is
    # not enough (its customer signs in)
    assert pay_page(theirs, mine.verification_hash()).status_code == 404
    assert pay_page(theirs, f"{theirs.number}:forged").status_code == 404
    assert pay_page(account_order, account_order.verification_hash()).status_code == 404
    assert stranger.get(reverse("checkout:pay", kwargs={"order_number": theirs.number})).status_code == 404
    # and nothing was remembered for them; my own link still works
    assert pay_page(mine, mine.verification_hash()).status_code == 302
    assert stranger.get(reverse("checkout:pay", kwargs={"order_number": theirs.number})).status_code == 404


def test_an_account_customer_is_emailed_a_link_to_the_order_page(client, p6_catalogue, django_user_model):
    ana = django_user_model.objects.create_user(username="ana", email="ana@example.org", password="x-pass-12345")
    client.force_login(ana)
    order, _ = place_order(client)
    [message] = mail.outbox
    assert message.to == ["ana@example.org"]
    body = " ".join(message.body.split())
    # the link goes to the account's order page (sign in first, then its "Complete payment" button), with no hash
    page = reverse("customer:order", kwargs={"order_number": order.number})
    assert f"Complete payment: http://example.com{page} " in body
    assert "?h=" not in body


def test_the_paid_order_email_is_still_the_confirmation(client, p6_catalogue):
    order, _ = place_order(client)
    mail.outbox.clear()
    payments.send_paid_email(order_pk=order.pk)
    [message] = mail.outbox
    assert message.subject == f"Confirmation of order {order.number}"
    assert "pleased to confirm" in message.body and "Complete payment" not in message.body


def test_the_pay_page_of_a_paid_order_opened_from_an_old_link_shows_the_order_page(client, p6_catalogue):
    order, _ = place_order(client, email="guest@example.org")
    Order.objects.filter(pk=order.pk).update(status=payments.PAID)
    response = Client().get(reverse("checkout:pay", kwargs={"order_number": order.number}),
                            {"h": order.verification_hash()}, follow=True)
    assert response.redirect_chain[-1][0].startswith("/accounts/order-status-form/")


# --- the way back: the order pages ------------------------------------------------------------------


def test_the_account_pages_of_a_pending_order_show_what_is_owed_and_the_complete_payment_button(
        client, p6_catalogue, campaign, django_user_model):
    ana = django_user_model.objects.create_user(username="ana", email="ana@example.org", password="x-pass-12345")
    client.force_login(ana)
    order, _ = place_order(client)
    pay = reverse("checkout:pay", kwargs={"order_number": order.number})
    # the order list shows each order's status, and the way to pay an unpaid one
    listing = _text(client.get(reverse("customer:order-list")))
    assert re.search(r'<td class="p6-order-status">Waiting for payment <a href="' + re.escape(pay) + '"', listing)
    # the order page says what is owed, the donation it is expected to give, and offers to pay, not to re-order
    page = _text(client.get(reverse("customer:order", kwargs={"order_number": order.number})))
    assert "This order is placed but not paid yet: $30.00 is still to pay." in page
    assert "Once paid, it is expected to give about $8.67 to Russian LGBT groups." in page
    assert f'<a href="{pay}" class="btn btn-primary btn-lg" id="p6-complete-payment">Complete payment</a>' in page
    assert "Re-order all items" not in page
    assert client.get(pay).status_code == 200


def test_the_account_page_of_a_cancelled_order_says_so_and_reorders(client, p6_catalogue, django_user_model):
    ana = django_user_model.objects.create_user(username="ana", email="ana@example.org", password="x-pass-12345")
    client.force_login(ana)
    order, _ = place_order(client)
    assert payments.cancel_unpaid_order(order=order, gateway=object()) == "cancelled"
    url = reverse("customer:order", kwargs={"order_number": order.number})
    page = _text(client.get(url))
    assert "This order was cancelled before it was paid, so no payment was taken and nothing will be sent." in page
    assert "Complete payment" not in page
    assert "Cancelled" in _text(client.get(reverse("customer:order-list")))
    # when the customer orders the items again, then they are in a new basket
    response = client.post(url, {"order_id": order.id, "action": "reorder"})
    assert response.status_code == 302 and response["Location"] == reverse("basket:summary")
    basket = Basket.objects.filter(owner=ana, status="Open").get()
    assert [(line.stockrecord.partner_sku, line.quantity) for line in basket.all_lines()] == [("P6-TEE-BLK-M", 1)]


def test_the_guest_order_status_page_shows_the_complete_payment_button(client, p6_catalogue):
    order, _ = place_order(Client(), email="guest@example.org")
    status = reverse("customer:anon-order", kwargs={"order_number": order.number, "hash": order.verification_hash()})
    form = client.get(status, follow=True).redirect_chain[-1][0]
    page = client.post(form, {"email": "guest@example.org"}, follow=True)
    html = _text(page)
    assert "This order is placed but not paid yet: $30.00 is still to pay." in html
    link = re.search(r'<a href="([^"]+)" class="btn btn-primary btn-lg" id="p6-complete-payment">', html).group(1)
    assert link.replace("&amp;", "&") == f"/checkout/pay/{order.number}/?h={order.verification_hash()}".replace(
        ":", "%3A")
    assert client.get(link.replace("&amp;", "&"), follow=True).status_code == 200


# --- declines in the fan's language -----------------------------------------------------------------


@pytest.mark.parametrize("lang, code, decline_code, expected", [
    ("en", "card_declined", "generic_decline",
     "Your card was declined, so no payment was taken. Please try another card, or ask your bank."),
    ("fr", "card_declined", "insufficient_funds",
     "Votre carte a été refusée car le solde est insuffisant. Aucun paiement n'a été effectué. "
     "Veuillez essayer une autre carte."),
    ("ru", "card_declined", "stolen_card",  # never tell the fan the card was reported
     "Ваша карта отклонена, деньги не списаны. Попробуйте другую карту или обратитесь в свой банк."),
    ("fr", "payment_intent_authentication_failure", None,
     "La vérification de sécurité de votre banque (authentification) n'a pas abouti, aucun paiement n'a donc "
     "été effectué. Veuillez réessayer ou utiliser une autre carte."),
])
def test_a_decline_is_worded_in_the_fans_language(lang, code, decline_code, expected):
    with translation.override(lang):
        assert decline_message(code=code, decline_code=decline_code) == expected
