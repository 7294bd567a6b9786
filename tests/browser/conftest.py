"""Browser tests: Debian's Chromium driven by playwright, against the shop served by the test
(pytest-django's live server on 127.0.0.1) and a localstripe process, all started and stopped here.

Chromium is never downloaded by playwright; `scripts/test` installs Debian's package when it is missing.
Without it these tests are skipped with the reason shown in the summary, never silently.
Screenshots of failed tests go to test-artifacts/.
"""

import os
import re
from pathlib import Path

import pytest

from tests.payments.conftest import WEBHOOK_SECRET
from tests.stripe_peer import TEST_PUBLISHABLE_KEY, TEST_SECRET_KEY, LocalStripe, request

CHROMIUM = os.environ.get("P6_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# playwright's sync API runs an event loop in this thread; Django's ORM refuses to run while a loop
# is running unless told the caller is synchronous, which a test is.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def chromium():
    from django.db import connection

    if connection.vendor == "sqlite":
        # pytest-django's live server shares the test's one in-memory SQLite connection between its request
        # threads: two requests at once (a webhook, a CSP report, a page) corrupt its transaction state, and the
        # tests after fail ("on_commit() cannot be used in manual transaction management"). PostgreSQL gives each
        # thread its own connection: CI runs the browser tests there.
        pytest.skip("browser tests run on PostgreSQL (DATABASE_URL=postgres://...): the live server shares one "
                    "SQLite connection between threads")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not installed at {CHROMIUM} (apt-get install chromium); browser tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


#: Reports each Content-Security-Policy violation the page sees to the test (see watch_csp).
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
    window.__p6_csp_violation({page: location.pathname, directive: event.effectiveDirective,
                               blocked: event.blockedURI, sample: event.sample || ""});
});
"""


def watch_csp(context):
    """The list every Content-Security-Policy violation of ``context``'s pages is appended to, as it happens."""
    violations = []

    def seen(violation):
        violations.append(violation)

    context.expose_function("__p6_csp_violation", seen)
    context.add_init_script(_CSP_LISTENER)
    return violations


@pytest.fixture
def page(chromium, request):
    context = chromium.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    violations = watch_csp(context)
    page = context.new_page()
    page.csp_violations = violations  # a test that provokes violations on purpose checks and clears them
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)[-150:]
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()
    passed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.passed
    if passed:
        # Every browser test runs with zero violations: the purchase, 3D Secure, the dashboard pages, the switcher.
        assert violations == [], f"Content-Security-Policy violations: {violations}"


@pytest.fixture(scope="session")
def browser_localstripe():
    with LocalStripe() as peer:
        yield peer


@pytest.fixture
def shop(live_server, browser_localstripe, settings, p6_catalogue):
    """The shop at live_server.url, paying through localstripe, whose webhooks reach the shop while the test
    runs. Afterwards the webhook is pointed nowhere: localstripe delivers about a second late, and the live
    server would write a late event into whatever test runs next."""
    browser_localstripe.flush()
    settings.STRIPE_SECRET_KEY = TEST_SECRET_KEY
    settings.STRIPE_PUBLISHABLE_KEY = TEST_PUBLISHABLE_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = browser_localstripe.url
    settings.STRIPE_PEER = "localstripe"
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    request("POST", browser_localstripe.url, "/_config/webhooks/p6-browser-tests",
            {"url": f"{live_server.url}/payments/stripe/webhook/", "secret": WEBHOOK_SECRET}, auth=False)
    yield live_server.url
    request("POST", browser_localstripe.url, "/_config/webhooks/p6-browser-tests",
            {"url": "http://127.0.0.1:9/nowhere/", "secret": WEBHOOK_SECRET}, auth=False)
    browser_localstripe.flush()


@pytest.fixture
def campaign(db):
    """The P6 campaign's 50 % rule and its beneficiaries, as scripts/run loads them."""
    from io import StringIO

    from django.core.management import call_command

    call_command("load_p6_fundraising", stdout=StringIO())
