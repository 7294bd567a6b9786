"""The fan pages pass axe-core's serious and critical checks, in English, French and Russian, and the variant
choice and the card form are reachable with the keyboard (issue 16, item 5).

One browser context per language (its locale picks the shop's language) walks one guest purchase of the
T-shirt with a charged shipping rate, so every step of the checkout is shown: home, catalogue, the T-shirt's
page (colour and size choice), basket, the checkout gate (email), shipping address, shipping method, preview,
the payment page (localstripe's Stripe.js stand-in mounts the card form) and the thank-you page. axe runs on
each page; the test fails on any violation of impact "serious" or "critical" and lists them all (page, rule id,
impact, the offending nodes' targets, with the colours for a contrast failure), not just the first page's.

Keyboard: on the T-shirt's page the colour radios, the size select and the add button, and on the payment page
each card input and the pay button, take the focus within MAX_TABS presses of Tab from the page's start.

Nothing is excluded from axe and no rule is turned off. The card form is localstripe's Stripe.js stand-in
(plain inputs mounted in #card-element, named by their placeholders), so axe checks it as part of our page; in
production Stripe's own iframe takes its place, which is Stripe's to make accessible and is not run here.
"""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from oscar.core.loading import get_model

from tests.browser.conftest import watch_csp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Product = get_model("catalogue", "Product")

LOCALES = {"en": "en-US", "fr": "fr-FR", "ru": "ru-RU"}
BLOCKING = {"serious", "critical"}
MAX_TABS = 60  # presses of Tab from the page's start within which a control must take the focus

axe = Axe()


@pytest.fixture(params=sorted(LOCALES))
def fan(request, chromium):
    lang = request.param
    context = chromium.new_context(locale=LOCALES[lang], viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    violations = watch_csp(context)
    page = context.new_page()
    yield lang, page
    context.close()
    assert violations == [], f"Content-Security-Policy violations: {violations}"


class Audit:
    """axe run on each page of the walk and the keyboard checks; what fails is kept and reported together."""

    def __init__(self, page, lang):
        self.page, self.lang = page, lang
        self.found = []  # (page name, rule id, impact, [targets], help)
        self.pages = []
        self.unreachable = []  # (page name, selector)

    def check(self, name):
        page = self.page
        page.wait_for_load_state("load")
        assert page.get_attribute("html", "lang") == self.lang, f"{name}: <html lang> is not {self.lang}"
        results = axe.run(page)
        self.pages.append(name)
        for violation in results.response["violations"]:
            if violation["impact"] in BLOCKING:
                targets = [described(node) for node in violation["nodes"]]
                self.found.append((name, violation["id"], violation["impact"], targets, violation["help"]))

    def reachable(self, name, selectors):
        self.unreachable.extend((name, sel) for sel in selectors if tab_to(self.page, sel) is None)

    def report(self):
        lines = [f"{len(self.found)} serious/critical axe violation(s) in {self.lang}:"]
        for name, rule, impact, targets, help_text in self.found:
            lines.append(f"  [{name}] {rule} ({impact}): {help_text}; {len(targets)} node(s):")
            lines.extend(f"      {target}" for target in targets)
        lines.append(f"{len(self.unreachable)} control(s) not reached with Tab within {MAX_TABS} presses:")
        lines.extend(f"  [{name}] {selector}" for name, selector in self.unreachable)
        return "\n".join(lines)


def described(node):
    """A node's target, with the colours and ratio axe measured when it is a contrast failure."""
    target = " ".join(map(str, node["target"]))
    data = next((check.get("data") for check in node.get("any", []) if isinstance(check.get("data"), dict)), None)
    if data and data.get("fgColor") and "contrastRatio" in data:
        target += (f"  ({data.get('fgColor')} on {data.get('bgColor')}: {data['contrastRatio']}"
                   f" < {data.get('expectedContrastRatio')})")
    return target


def tab_to(page, selector, *, limit=MAX_TABS):
    """Press Tab from the page's start until the element matching `selector` has the focus; the presses it
    took, or None if it never had it within `limit`."""
    # Start the tab order from the document's beginning, as a fan arriving on the page does.
    page.evaluate("""() => {
        const start = document.createElement('span');
        start.tabIndex = -1; start.id = 'p6-a11y-start';
        document.body.prepend(start); start.focus(); start.remove();
    }""")
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate("(sel) => { const el = document.activeElement; return !!el && el.matches(sel); }",
                         selector):
            return presses
    return None


def test_fan_pages_have_no_serious_axe_violations_and_choices_are_reachable_by_keyboard(
        fan, shop, campaign, settings):
    lang, page = fan
    settings.SHOP_FREE_SHIPPING_OVER = ""  # a charged rate: the shipping-method step is shown, not skipped
    audit = Audit(page, lang)

    page.goto(f"{shop}/")
    audit.check("home")
    page.goto(f"{shop}/catalogue/")
    audit.check("catalogue")

    tee = Product.objects.get(upc="P6-TEE")
    page.goto(f"{shop}{tee.get_absolute_url()}")
    audit.check("product (T-shirt)")
    form = "#add_to_basket_form"
    audit.reachable("product (T-shirt)", [f"{form} input[name=colour]", f"{form} select[name=size]",
                                          f"{form} button[type=submit]"])
    page.locator(f"{form} input[name=colour]:not([disabled])").first.check()
    page.select_option(f"{form} select[name=size]", "M")
    with page.expect_navigation():
        page.click(f"{form} button[type=submit]")

    page.goto(f"{shop}/basket/")
    audit.check("basket")
    page.click("a[href$='/checkout/']")

    page.wait_for_url(re.compile(r".*/checkout/$"))
    audit.check("checkout: email")
    page.fill("input[name=username]", "fan@example.org")
    page.check("input[value=anonymous]")
    page.click("form.card button[type=submit]")

    page.wait_for_url(re.compile(r".*/checkout/shipping-address/$"))
    audit.check("checkout: shipping address")
    page.fill("input[name=first_name]", "Ana")
    page.fill("input[name=last_name]", "Fan")
    page.fill("input[name=line1]", "1 Main St")
    page.fill("input[name=line4]", "Boston")
    page.fill("input[name=postcode]", "02110")
    page.select_option("select[name=country]", "US")
    page.click("#new_shipping_address button[type=submit]")

    page.wait_for_url(re.compile(r".*/checkout/shipping-method/$"))
    audit.check("checkout: shipping method")
    page.locator("form[action*='shipping-method'] button[type=submit]").first.click()

    page.wait_for_url(re.compile(r".*/checkout/preview/$"))
    audit.check("checkout: preview")
    page.click("#place-order")

    page.wait_for_url(re.compile(r".*/checkout/pay/\d+/$"))
    page.locator("#card-element input").first.wait_for()
    audit.check("payment")
    card = {"number": "4242424242424242", "exp_month": "12", "exp_year": "34", "cvc": "123", "postal_code": "02110"}
    audit.reachable("payment", [f"#card-element input[placeholder={field}]" for field in card] + ["#pay-button"])
    for field, value in card.items():
        page.fill(f"#card-element input[placeholder={field}]", value)
    page.click("#pay-button")

    page.wait_for_url(re.compile(r".*/checkout/thank-you/$"))
    audit.check("thank you")
    # the fan follows the receipt link to their entries in the public ledger (issue 17)
    page.click("#p6-receipt a")
    page.wait_for_url(re.compile(r".*/fundraising/ledger/\?receipt=.*"))
    audit.check("public ledger (receipt)")

    assert len(audit.pages) == 11
    assert not audit.found and not audit.unreachable, audit.report()
