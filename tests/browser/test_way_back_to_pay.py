"""A guest who left the payment page comes back from the order email, in another browser, and pays (issue 12)."""

import re

import pytest
from django.core import mail
from oscar.core.loading import get_model

from fundraising.models import LedgerTransaction
from shop.payments.models import PaymentAttempt
from tests.browser.conftest import watch_csp
from tests.browser.test_purchase import GOOD_CARD, checkout_tshirt_as_guest, type_card
from tests.stripe_peer import request

Order = get_model("order", "Order")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _charges(peer, order):
    charges = request("GET", peer.url, "/v1/charges?limit=100")["data"]
    intents = set(PaymentAttempt.objects.filter(order=order).exclude(intent_id=None).values_list("intent_id",
                                                                                                 flat=True))
    return [c for c in charges if c.get("payment_intent") in intents and c.get("status") == "succeeded"]


def test_a_guest_leaves_the_payment_page_and_pays_from_the_order_email_in_a_new_browser(
        page, chromium, shop, campaign, browser_localstripe):
    # given a guest who placed an order and left the payment page without paying
    order = checkout_tshirt_as_guest(page, shop)
    page.goto(f"{shop}/")
    assert Order.objects.get(pk=order.pk).status == "Pending payment"
    # when they open the "Complete payment" link of the order email in a new browser session
    [email] = mail.outbox
    assert email.subject == f"Order {order.number}: complete your payment"
    link = re.search(r"Complete payment: https?://[^/\s]+(/\S+)", email.body).group(1)
    context = chromium.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    violations = watch_csp(context)
    try:
        fresh = context.new_page()
        fresh.goto(f"{shop}{link}")
        # then they are on the order's payment page (the link's hash no longer in the address), which says
        # what is being paid and what it is expected to give, under the "4. Payment" step
        assert fresh.url == f"{shop}/checkout/pay/{order.number}/"
        assert fresh.locator("#checkout-steps li.active").inner_text().strip() == "4. Payment"
        assert fresh.locator("#p6-paying").inner_text().startswith(
            f"You are paying $30.00 for order {order.number}.")
        assert "about $8.67" in fresh.locator("#p6-basket-donation").inner_text()
        # when they pay with a good card
        type_card(fresh, GOOD_CARD)
        fresh.wait_for_url(re.compile(r".*/checkout/thank-you/$"))
        # then they see the confirmation, and the order is paid once: one charge, one sale
        assert f"Order {order.number}: confirmation" in fresh.content()
        assert fresh.locator("#checkout-steps li.active").inner_text().strip() == "5. Confirmation"
    finally:
        context.close()
    assert violations == [], f"Content-Security-Policy violations: {violations}"
    order.refresh_from_db()
    assert order.status == "Paid"
    assert len(_charges(browser_localstripe, order)) == 1
    assert LedgerTransaction.objects.filter(order=order, kind="sale").count() == 1
    assert [m.subject for m in mail.outbox] == [f"Order {order.number}: complete your payment",
                                                f"Confirmation of order {order.number}"]
