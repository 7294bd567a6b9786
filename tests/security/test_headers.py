"""The Content-Security-Policy and the other security headers (issue 18, items 1, 3 and 4), through the test client:
every page a fan or staff member visits carries the policy with its nonce, the payment page adds exactly Stripe's
origins, a cached page's nonce is this response's, and the payment page runs only the scripts of the inventory,
local ones with their integrity hashes."""

import base64
import hashlib
import re
from html.parser import HTMLParser
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import Client, TestCase
from django.urls import reverse
from oscar.core.loading import get_model

from shop.security.headers import STRIPE_CONNECT, STRIPE_FRAME, STRIPE_SCRIPT
from shop.security.inventory import INLINE_INIT, PAYMENT_PAGE_SCRIPTS, STRIPE_JS
from tests.payments.conftest import place_order

pytestmark = pytest.mark.django_db

Product = get_model("catalogue", "Product")
StockRecord = get_model("partner", "StockRecord")
README = Path(__file__).resolve().parents[2] / "README.md"
BASE = {
    "default-src": ["'self'"], "style-src-attr": ["'unsafe-inline'"], "font-src": ["'self'"],
    "object-src": ["'none'"], "base-uri": ["'self'"], "form-action": ["'self'"], "frame-ancestors": ["'none'"],
    "report-uri": ["/security/csp-report/"],
}


def policy(response):
    """{directive: [sources]} of the response's Content-Security-Policy header."""
    header = response["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}


class _Scripts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts, self.styles = [], []
        self._inline = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts.append(attrs)
            self._inline = attrs if "src" not in attrs else None
            if self._inline is not None:
                self._inline["text"] = ""
        elif tag == "style":
            self.styles.append(attrs)

    def handle_data(self, data):
        if self._inline is not None:
            self._inline["text"] += data

    def handle_endtag(self, tag):
        if tag == "script":
            self._inline = None


def scripts_of(html):
    parser = _Scripts()
    parser.feed(html)
    return parser


def assert_nonce_matches(response):
    """Every inline script and style element carries the nonce the header names, and nothing else inline runs."""
    rules = policy(response)
    nonces = {s[len("'nonce-"):-1] for s in rules["script-src"] if s.startswith("'nonce-")}
    parsed = scripts_of(response.content.decode())
    inline = [s for s in parsed.scripts if "src" not in s]
    assert inline, "every page has its initialisation script"
    assert len(nonces) == 1
    (nonce,) = nonces
    assert [s.get("nonce") for s in inline] == [nonce] * len(inline)
    assert [s.get("nonce") for s in parsed.styles] == [nonce] * len(parsed.styles)
    assert f"'nonce-{nonce}'" in rules["style-src"]
    assert not re.search(r"\son[a-z]+=\"", response.content.decode()), "an inline event handler would be refused"
    return nonce


@pytest.fixture
def campaign(db):
    call_command("load_p6_fundraising", stdout=StringIO())


def fan_urls():
    return [
        reverse("p6-home"), reverse("catalogue:index"), Product.objects.get(upc="P6-TEE").get_absolute_url(),
        reverse("basket:summary"), reverse("about-p6"), reverse("search:search") + "?q=shirt", "/fundraising/",
        "/fundraising/ledger/", reverse("customer:login"), reverse("catalogue:index") + "?page=1",
    ]


def test_every_fan_page_answers_with_the_policy_and_its_nonce(client, p6_catalogue, campaign):
    for url in fan_urls():
        response = client.get(url)
        assert response.status_code == 200, url
        rules = policy(response)
        assert {k: rules[k] for k in BASE} == BASE, url
        assert rules["frame-src"] == ["'none'"], url
        assert rules["connect-src"] == ["'self'"], url
        assert [s for s in rules["script-src"] if not s.startswith("'nonce-")] == ["'self'"], url
        assert_nonce_matches(response)
        assert response["Permissions-Policy"].startswith('payment=("https://js.stripe.com"), camera=()')
        assert response["Cross-Origin-Opener-Policy"] == "same-origin"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "report-to" not in response["Content-Security-Policy"]  # Chromium would then ignore report-uri


def test_the_checkout_and_the_payment_page_answer_with_the_policy(client, p6_catalogue, campaign, settings):
    settings.STRIPE_API_BASE = ""
    record = StockRecord.objects.get(partner_sku="P6-TEE-BLK-M")
    client.post(reverse("basket:add", kwargs={"pk": record.product.parent_id}),
                {"quantity": 1, "child_id": record.product_id})
    pages = [reverse("basket:summary"), reverse("checkout:index")]
    client.post(reverse("checkout:index"), {"username": "fan@example.org", "options": "anonymous"})
    pages.append(reverse("checkout:shipping-address"))
    checked = [client.get(url) for url in pages]
    client.post(reverse("checkout:shipping-address"), {
        "first_name": "Ana", "last_name": "Fan", "line1": "1 Main St", "line4": "Boston", "state": "MA",
        "postcode": "02110", "country": "US"})
    client.get(reverse("checkout:shipping-method"))
    checked.append(client.get(reverse("checkout:preview")))
    with TestCase.captureOnCommitCallbacks(execute=True):
        placed = client.post(reverse("checkout:preview"), {"action": "place_order"})
    checked.append(client.get(placed["Location"]))
    assert [page.status_code for page in checked] == [200] * 5
    for page in checked:
        rules = policy(page)
        assert {k: rules[k] for k in BASE} == BASE
        assert_nonce_matches(page)


def test_the_payment_page_allows_exactly_stripes_origins(client, p6_catalogue, campaign, settings):
    settings.STRIPE_API_BASE = ""
    _, response = place_order(client)
    rules = policy(client.get(response["Location"]))
    assert [s for s in rules["script-src"] if not s.startswith("'nonce-")] == ["'self'", *STRIPE_SCRIPT]
    assert rules["frame-src"] == list(STRIPE_FRAME)
    assert rules["connect-src"] == ["'self'", *STRIPE_CONNECT]
    assert STRIPE_SCRIPT == ("https://js.stripe.com", "https://*.js.stripe.com")
    assert STRIPE_FRAME == ("https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com")
    assert STRIPE_CONNECT == ("https://api.stripe.com",)

    # and with the demo's localstripe, its origin instead, and nothing of Stripe's
    settings.STRIPE_API_BASE = "http://127.0.0.1:8420/"
    rules = policy(client.get(response["Location"]))
    assert [s for s in rules["script-src"] if not s.startswith("'nonce-")] == ["'self'", "http://127.0.0.1:8420"]
    assert rules["frame-src"] == ["http://127.0.0.1:8420"]
    assert rules["connect-src"] == ["'self'", "http://127.0.0.1:8420"]


def test_in_report_only_mode_the_payment_page_reports_under_the_same_policy(client, p6_catalogue, campaign, settings):
    settings.STRIPE_API_BASE = ""
    _, placed = place_order(client)
    enforced = client.get(placed["Location"])
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = settings.CONTENT_SECURITY_POLICY
    settings.CONTENT_SECURITY_POLICY = None
    reported = client.get(placed["Location"])
    assert "Content-Security-Policy" not in reported
    nonce = re.compile(r"'nonce-[^']+'")
    assert nonce.sub("N", reported["Content-Security-Policy-Report-Only"]) == nonce.sub(
        "N", enforced["Content-Security-Policy"])
    assert "https://js.stripe.com" in reported["Content-Security-Policy-Report-Only"]


def test_staff_pages_answer_with_the_policy(staff_client, p6_catalogue, campaign):
    order, _ = place_order(Client())
    urls = [reverse("dashboard:index"), reverse("dashboard:order-list"),
            reverse("dashboard:order-detail", kwargs={"number": order.number}),
            reverse("payments-dashboard:order-refund", kwargs={"number": order.number}),
            reverse("dashboard:catalogue-product-list"), reverse("catalog-dashboard:unit-cost-list"),
            reverse("payments-dashboard:excess-list"), reverse("payments-dashboard:webhook-events"),
            reverse("payments-dashboard:email-list"), reverse("payments-dashboard:job-runs"),
            reverse("security-dashboard:csp-violations")]
    urls += [reverse(f"fundraising-dashboard:{name}") for name in (
        "overview", "ledger", "statement", "disbursement-list", "disbursement-create", "beneficiary-list",
        "beneficiary-create", "rule-list", "rule-create", "goal", "partner-import")]
    for url in urls:
        page = staff_client.get(url)
        assert page.status_code == 200, url
        rules = policy(page)
        assert {k: rules[k] for k in BASE} == BASE, url
        assert_nonce_matches(page)


def test_a_fans_account_pages_answer_with_the_policy(client, p6_catalogue, campaign, django_user_model):
    django_user_model.objects.create_user(username="ana", email="ana@example.org", password="fan-pass-123")
    assert client.login(username="ana@example.org", password="fan-pass-123")
    order, _ = place_order(client, email="ana@example.org")
    for url in (reverse("customer:profile-view"), reverse("customer:order-list"),
                reverse("customer:order", kwargs={"order_number": order.number}),
                reverse("customer:profile-update"), reverse("customer:change-password")):
        page = client.get(url)
        assert page.status_code == 200, url
        rules = policy(page)
        assert {k: rules[k] for k in BASE} == BASE, url
        assert rules["frame-src"] == ["'none'"], url
        assert_nonce_matches(page)


def test_a_cached_page_carries_this_responses_nonce(client, p6_catalogue, settings):
    settings.SHOP_PAGE_CACHE_SECONDS = 60
    first = client.get(reverse("catalogue:index"))
    second = Client().get(reverse("catalogue:index"))
    assert (first["X-Page-Cache"], second["X-Page-Cache"]) == ("miss", "hit")
    nonces = [assert_nonce_matches(first), assert_nonce_matches(second)]
    assert nonces[0] != nonces[1]
    assert "p6-page-cache-csp-nonce-placeholder" not in second.content.decode()


def _sri(path):
    return "sha384-" + base64.b64encode(hashlib.sha384(Path(finders.find(path)).read_bytes()).digest()).decode()


def test_the_payment_page_runs_only_the_scripts_of_the_inventory_with_their_integrity(
        client, p6_catalogue, campaign, settings):
    settings.STRIPE_API_BASE = ""
    _, response = place_order(client)
    page = client.get(response["Location"])
    parsed = scripts_of(page.content.decode())
    seen = []
    for attrs in parsed.scripts:
        src = attrs.get("src")
        if src is None:
            seen.append(INLINE_INIT)
        elif src == "https://js.stripe.com/v3/":
            seen.append(STRIPE_JS)
        else:
            assert src.startswith(settings.STATIC_URL), src
            path = src[len(settings.STATIC_URL):]
            assert attrs.get("integrity") == _sri(path), path
            seen.append(path)
    assert sorted(seen) == sorted(PAYMENT_PAGE_SCRIPTS)


def test_the_readme_lists_every_script_of_the_payment_page():
    readme = README.read_text(encoding="utf-8")
    section = readme[readme.index("### The payment page's scripts"):]
    for script in PAYMENT_PAGE_SCRIPTS:
        assert f"`{script}`" in section, script


def test_a_static_file_changed_on_disk_gets_another_integrity_hash(tmp_path, settings):
    from shop.templatetags.sri_tags import integrity

    folder = tmp_path / "static"
    (folder / "x").mkdir(parents=True)
    target = folder / "x" / "probe.js"
    target.write_text("console.log(1);\n")
    settings.STATICFILES_DIRS = [str(folder)]
    finders.get_finder.cache_clear()
    try:
        before = integrity("x/probe.js")
        target.write_text("console.log('injected');\n")
        import os
        os.utime(target, ns=(1, 2_000_000_000_000_000_000))
        assert integrity("x/probe.js") != before
        assert integrity("x/probe.js") == "sha384-" + base64.b64encode(
            hashlib.sha384(b"console.log('injected');\n").digest()).decode()
        with pytest.raises(ValueError, match="no static file"):
            integrity("x/missing.js")
    finally:
        finders.get_finder.cache_clear()
