"""The payment page under its Content-Security-Policy in Chromium (issue 18): a script injected into the page is
blocked, reported to the shop's report endpoint, and shown to staff. (Every other browser test asserts that its
pages ran with zero violations: tests/browser/conftest.py.)"""

import time

import pytest

from shop.security.models import CspViolation
from tests.browser.test_purchase import checkout_tshirt_as_guest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

INJECT_INLINE = """() => {
    const inline = document.createElement("script");
    inline.textContent = "window.__p6_skimmed = document.querySelector('#card-element') !== null;";
    document.body.appendChild(inline);
}"""
INJECT_REMOTE = """() => {
    const remote = document.createElement("script");
    remote.src = "https://skimmer.example/collect.js";
    document.body.appendChild(remote);
}"""


def _reported(page_path, expected, timeout=15.0):
    """The violations stored for ``page_path`` once ``expected`` of them arrived (the browser reports them late)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = list(CspViolation.objects.filter(page=page_path).order_by("blocked_url"))
        if len(rows) >= expected or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def test_a_script_injected_into_the_payment_page_is_blocked_reported_and_shown_to_staff(
        page, shop, staff_user, settings):
    settings.SHOP_ALERT_EMAIL = "finance@example.org"
    # given a fan on the payment page, which ran with no violation
    order = checkout_tshirt_as_guest(page, shop)
    pay_path = f"/checkout/pay/{order.number}/"
    assert page.csp_violations == []

    # when a script is injected into it (a compromised file or extension adding an inline and a remote script),
    # one after the other: on SQLite the live server's threads share one connection, and two reports stored at
    # the same moment would collide there (on PostgreSQL each request has its own)
    page.evaluate(INJECT_INLINE)
    assert len(_reported("/checkout/pay/<n>/", 1)) == 1
    page.evaluate(INJECT_REMOTE)
    deadline = time.monotonic() + 10
    while len(page.csp_violations) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(100)

    # then neither ran, the page saw both refused, and both reached the report endpoint
    assert page.evaluate("() => window.__p6_skimmed") is None
    seen = sorted((v["page"], v["directive"], v["blocked"]) for v in page.csp_violations)
    assert seen == [(pay_path, "script-src-elem", "https://skimmer.example/collect.js"),
                    (pay_path, "script-src-elem", "inline")]
    rows = _reported("/checkout/pay/<n>/", 2)  # stored without the order number
    assert sorted((r.directive, r.blocked_url, r.disposition, r.on_payment_page) for r in rows) == [
        ("script-src-elem", "https://skimmer.example/collect.js", "enforce", True),
        ("script-src-elem", "inline", "enforce", True),
    ]
    page.csp_violations.clear()  # provoked on purpose: checked above

    # and staff see them in the dashboard, under a payment-page warning
    page.goto(f"{shop}/dashboard/login/")
    page.fill("input[name=username]", staff_user.email)
    page.fill("input[name=password]", "staff-pass-123")
    page.get_by_role("button", name="Login").click()
    page.wait_for_load_state()
    page.goto(f"{shop}/dashboard/security/csp-violations/")
    text = page.locator("body").inner_text()
    assert "https://skimmer.example/collect.js" in text and "/checkout/pay/<n>/" in text
    assert "Content-Security-Policy violation" in text and "payment page" in text
    assert page.csp_violations == []
