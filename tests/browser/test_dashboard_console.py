"""The dashboard's order pages start up without a script error (issue 16, item 6): Oscar 4.2's order page
called `oscar.dashboard.orders.initTable`, which its dashboard.js does not define."""

import re

import pytest

from tests.browser.test_purchase import GOOD_CARD, checkout_tshirt_as_guest, type_card

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def collect_errors(page):
    """Every console error and uncaught exception of `page` from now on (a failed resource load, a 404
    favicon among them, is a console error too)."""
    errors = []
    page.on("console", lambda message: errors.append(f"console: {message.text}") if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    return errors


def test_the_dashboard_order_pages_log_no_console_error(page, shop, campaign, staff_user):
    # given a fan's paid order
    order = checkout_tshirt_as_guest(page, shop)
    type_card(page, GOOD_CARD)
    page.wait_for_url(re.compile(r".*/checkout/thank-you/$"))
    # and a staff member logged into the dashboard
    page.goto(f"{shop}/dashboard/login/")
    page.fill("input[name=username]", staff_user.email)
    page.fill("input[name=password]", "staff-pass-123")
    page.get_by_role("button", name="Login").click()
    page.wait_for_load_state()
    errors = collect_errors(page)
    # when they open the order list and the order's page
    page.goto(f"{shop}/dashboard/orders/", wait_until="networkidle")
    page.goto(f"{shop}/dashboard/orders/{order.number}/", wait_until="networkidle")
    # then the page is the order's, its start-up script ran to its end (initTabs shows the tab in the URL's
    # hash) and nothing was logged as an error
    assert f"Order #{order.number}" in page.content()
    page.goto(f"{shop}/dashboard/orders/{order.number}/#lines", wait_until="networkidle")
    assert errors == []
    # and the refund form, the fundraising pages and the security reports start up as cleanly, under the
    # Content-Security-Policy (the page fixture fails the test on any violation)
    for path in (f"/dashboard/payments/orders/{order.number}/refund/", "/dashboard/fundraising/",
                 "/dashboard/fundraising/ledger/", "/dashboard/fundraising/statement/",
                 "/dashboard/security/csp-violations/"):
        response = page.goto(f"{shop}{path}", wait_until="networkidle")
        assert response.status == 200, path
    assert errors == [] and page.csp_violations == []
    # (the check sees errors: a script error on this page is collected)
    page.evaluate("setTimeout(function () { oscar.dashboard.orders.initTable(); }, 0)")
    page.wait_for_timeout(200)
    assert errors and "initTable is not a function" in errors[-1]
