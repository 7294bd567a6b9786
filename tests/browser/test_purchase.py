"""A fan buys a P6 shirt in a real browser (issue #8; proves the payment page of issue #3)."""

import re
from decimal import Decimal

import pytest
from oscar.core.loading import get_model

from shop.payments.models import PaymentAttempt

Order = get_model("order", "Order")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GOOD_CARD = "4242424242424242"
THREE_DS_CARD = "4000002500003155"
DECLINED_CARD = "4000000000000341"


def checkout_tshirt_as_guest(page, shop, *, colour="Black", size="M"):
    page.goto(f"{shop}/")
    page.click("text=P6 Unisex T-shirt")
    page.click(f"#add_to_basket_form label.p6-swatch:has-text('{colour}')")  # the colour's swatch
    page.select_option("select[name=size]", size)
    page.click("#add_to_basket_form button[type=submit]")
    page.goto(f"{shop}/basket/")
    page.click("text=Proceed to checkout")
    page.fill("input[name=username]", "fan@example.org")
    page.check("input[value=anonymous]")
    page.click("button[type=submit]:has-text('Continue')")
    page.fill("input[name=first_name]", "Ana")
    page.fill("input[name=last_name]", "Fan")
    page.fill("input[name=line1]", "1 Main St")
    page.fill("input[name=line4]", "Boston")
    page.fill("input[name=postcode]", "02110")
    page.select_option("select[name=country]", "US")
    page.click("button:has-text('Continue')")
    page.wait_for_url(re.compile(r".*/checkout/preview/$"))
    page.click("button:has-text('Place order')")
    page.wait_for_url(re.compile(r".*/checkout/pay/\d+/$"))
    return Order.objects.get(number=page.url.rstrip("/").rsplit("/", 1)[1])


def type_card(page, number):
    # localstripe's Stripe.js stand-in mounts plain inputs in the card element.
    page.fill("#card-element input[placeholder=number]", number)
    page.fill("#card-element input[placeholder=exp_month]", "12")
    page.fill("#card-element input[placeholder=exp_year]", "34")
    page.fill("#card-element input[placeholder=cvc]", "123")
    page.fill("#card-element input[placeholder=postal_code]", "02110")
    page.click("#pay-button")


def test_a_fan_buys_a_black_tshirt_in_size_m_with_a_test_card(page, shop, campaign):
    order = checkout_tshirt_as_guest(page, shop)
    assert order.status == "Pending payment"
    type_card(page, GOOD_CARD)
    page.wait_for_url(re.compile(r".*/checkout/thank-you/$"))
    assert f"Order {order.number}: confirmation" in page.content()
    order.refresh_from_db()
    assert order.status == "Paid"
    assert [(line.partner_sku, line.quantity) for line in order.lines.all()] == [("P6-TEE-BLK-M", 1)]
    assert order.sources.get().amount_debited == Decimal("30.00")
    # and the confirmation shows what the order gave, the figure the product page promised: localstripe's fee
    # of 0.00 is one it never took, so the fee schedule's 2.9 % + 0.30 = 1.17 is used:
    # (30.00 - 11.50 - 1.17) x 50 % = 8.665 -> 8.67
    assert page.locator("#p6-order-donation").inner_text().startswith("Your order gave $8.67")


def test_staff_see_the_new_sale_in_the_fundraising_dashboard_and_export_it(page, shop, campaign, staff_user):
    # given a fan's paid T-shirt
    order = checkout_tshirt_as_guest(page, shop)
    type_card(page, GOOD_CARD)
    page.wait_for_url(re.compile(r".*/checkout/thank-you/$"))
    # when a staff member logs into the dashboard
    page.goto(f"{shop}/dashboard/login/")
    page.fill("input[name=username]", staff_user.email)
    page.fill("input[name=password]", "staff-pass-123")
    page.get_by_role("button", name="Login").click()
    page.wait_for_load_state()
    page.goto(f"{shop}/dashboard/fundraising/")
    # then the overview shows the 8.67 donated, the ledger lists the sale, and the CSV holds it
    assert "$8.67" in page.content()
    page.goto(f"{shop}/dashboard/fundraising/ledger/")
    ledger = page.content()
    assert f"/dashboard/orders/{order.number}/" in ledger and "8.67" in ledger
    # the export link, fetched with the staff member's session: a browser download has no time limit (playwright's
    # Download.path() waits for ever on a stalled one), a request does
    export = page.request.get(shop + page.get_attribute("#export-csv", "href"), timeout=30_000)
    assert export.status == 200 and export.headers["content-type"].startswith("text/csv")
    csv_text = export.text()
    assert f"sale:{order.number}" in csv_text
    assert ",8.67,0.00," in csv_text or ",8.67," in csv_text


def test_3d_secure_completed_pays_the_order(page, shop):
    order = checkout_tshirt_as_guest(page, shop)
    type_card(page, THREE_DS_CARD)
    page.click("text=Complete authentication")
    page.wait_for_url(re.compile(r".*/checkout/thank-you/$"))
    order.refresh_from_db()
    assert order.status == "Paid"


def test_3d_secure_failed_leaves_the_order_payable(page, shop):
    order = checkout_tshirt_as_guest(page, shop)
    type_card(page, THREE_DS_CARD)
    page.click("text=Fail authentication")
    message = page.locator("#payment-message")
    message.wait_for(state="visible")
    assert "authentication" in message.inner_text().lower()
    order.refresh_from_db()
    assert order.status == "Pending payment"
    assert PaymentAttempt.objects.get(order=order).status == "failed"


def test_a_declined_card_shows_the_error_and_a_good_card_then_pays(page, shop):
    order = checkout_tshirt_as_guest(page, shop)
    type_card(page, DECLINED_CARD)
    message = page.locator("#payment-message")
    message.wait_for(state="visible")
    assert "declined" in message.inner_text().lower()
    order.refresh_from_db()
    assert order.status == "Pending payment"
    type_card(page, GOOD_CARD)
    page.wait_for_url(re.compile(r".*/checkout/thank-you/$"))
    order.refresh_from_db()
    assert order.status == "Paid"
    assert list(PaymentAttempt.objects.filter(order=order).values_list("status", flat=True)) == [
        "canceled", "succeeded"]  # the declined intent is cancelled at Stripe before the next one


def test_the_language_switcher_shows_the_shop_in_french_and_russian(page, shop):
    page.goto(f"{shop}/")
    page.select_option("#language_selector select[name=language]", "fr")
    page.click("#language_selector button[type=submit]")
    page.wait_for_load_state()
    assert "Panier" in page.content()
    page.select_option("#language_selector select[name=language]", "ru")
    page.click("#language_selector button[type=submit]")
    page.wait_for_load_state()
    assert "Корзина" in page.content()
