"""A fan in Paris chooses a colour and a size in a real browser (issue 16, item 1): nothing preselected, the
price and the donation follow the choice, a sold-out size is disabled, and exactly that shirt is added; then
buys it, shipped to France, and reads the confirmation in French (the done-when of issue 16)."""

import re
from decimal import Decimal

import pytest
from oscar.core.loading import get_model

from fundraising.models import Entry, LedgerTransaction
from tests.browser.conftest import watch_csp
from tests.browser.test_purchase import GOOD_CARD, type_card

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Product = get_model("catalogue", "Product")
StockRecord = get_model("partner", "StockRecord")
Line = get_model("basket", "Line")
Order = get_model("order", "Order")


def flat(text):
    return " ".join(text.replace("\u202f", " ").replace("\xa0", " ").split())


@pytest.fixture
def french_page(chromium):
    context = chromium.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    violations = watch_csp(context)
    yield context.new_page()
    context.close()
    assert violations == [], f"Content-Security-Policy violations: {violations}"


def test_a_french_fan_chooses_colour_and_size_and_sees_price_and_donation_follow(
        french_page, live_server, p6_catalogue, campaign):
    page = french_page
    # given the black S T-shirt is sold out
    StockRecord.objects.filter(partner_sku="P6-TEE-BLK-S").update(num_in_stock=0)
    tee = Product.objects.get(upc="P6-TEE")
    page.goto(f"{live_server.url}{tee.get_absolute_url()}")
    price = page.locator(".product_main .price_color")
    donation = page.locator("#p6-donation")
    # then nothing is chosen: the page says the price and the donation the shirt starts from
    assert flat(price.inner_text()) == "30,00 $US"
    assert "8,67 $US" in flat(donation.inner_text())
    assert page.locator("input[name=colour]:checked").count() == 0
    assert page.input_value("select[name=size]") == ""
    # and "Add to basket" without a choice asks for one: nothing is posted
    page.click("#add_to_basket_form button[type=submit]")
    assert page.url.endswith(tee.get_absolute_url())
    assert Line.objects.count() == 0
    # when the fan picks black: size S is disabled and labelled sold out
    page.click("#add_to_basket_form label.p6-swatch:has-text('Noir')")
    option_s = page.locator("select[name=size] option[value=S]")
    assert option_s.is_disabled()
    assert flat(option_s.inner_text()) == "S — épuisé"
    # when XXL is chosen: its price and its donation ((32.00 − 12.75 − 1.23) × 50 % = 9.01)
    page.select_option("select[name=size]", "XXL")
    assert flat(price.inner_text()) == "32,00 $US"
    assert "environ 9,01 $US" in flat(donation.inner_text())
    # when M: 30.00 and 8.67
    page.select_option("select[name=size]", "M")
    assert flat(price.inner_text()) == "30,00 $US"
    assert "environ 8,67 $US" in flat(donation.inner_text())
    # when white: S is offered again
    page.click("#add_to_basket_form label.p6-swatch:has-text('Blanc')")
    assert not option_s.is_disabled()
    # and adding puts exactly the white XXL in the basket, at its price
    page.select_option("select[name=size]", "XXL")
    with page.expect_navigation():
        page.click("#add_to_basket_form button[type=submit]")
    assert [(line.product.upc, line.quantity, str(line.price_excl_tax))
            for line in Line.objects.select_related("product")] == [("P6-TEE-WHT-XXL", 1, "32.00")]


def test_a_french_fan_buys_a_shirt_shipped_to_france_and_reads_the_confirmation_in_french(
        french_page, shop, campaign, settings):
    settings.SHOP_FREE_SHIPPING_OVER = "100.00"  # the shop's configuration: a 30.00 shirt pays its shipping
    page = french_page
    # the home page and the product page in French
    page.goto(f"{shop}/")
    page.click("text=T-shirt unisexe P6")
    assert page.locator(".product_main h1").inner_text() == "T-shirt unisexe P6"
    assert "Le Principe 6 de la Charte olympique dit" in flat(page.locator(".product_page").inner_text())
    # choose Gris chiné, XXL then M: the price and the donation follow
    page.click("#add_to_basket_form label.p6-swatch:has-text('Gris chiné')")
    page.select_option("select[name=size]", "XXL")
    assert flat(page.locator(".product_main .price_color").inner_text()) == "32,00 $US"
    assert "environ 9,01 $US" in flat(page.locator("#p6-donation").inner_text())
    page.select_option("select[name=size]", "M")
    assert flat(page.locator(".product_main .price_color").inner_text()) == "30,00 $US"
    assert "environ 8,67 $US" in flat(page.locator("#p6-donation").inner_text())
    with page.expect_navigation():
        page.click("#add_to_basket_form button[type=submit]")
    # the basket names the shirt in French
    page.goto(f"{shop}/basket/")
    assert "T-shirt unisexe P6, Gris chiné, M" in flat(page.content())
    page.click("text=Procéder au paiement")
    page.fill("input[name=username]", "fan@example.fr")
    page.check("input[value=anonymous]")
    page.click("button[type=submit]:has-text('Continuer')")
    # France is the default country of a French-speaking fan
    assert page.input_value("select[name=country]") == "FR"
    page.fill("input[name=first_name]", "Camille")
    page.fill("input[name=last_name]", "Martin")
    page.fill("input[name=line1]", "12 rue de la Paix")
    page.fill("input[name=line4]", "Paris")
    page.fill("input[name=postcode]", "75002")
    page.click("button:has-text('Continuer')")
    # the shipping step shows the rate to France before the preview: 9,00 $US (0.2 kg, EU + UK zone)
    page.wait_for_url(re.compile(r".*/checkout/shipping-method/$"))
    step = flat(page.locator("body").inner_text())
    assert "Union européenne et Royaume-Uni" in step and "9,00 $US" in step
    page.locator("form[action$='/checkout/shipping-method/'] button[type=submit]").first.click()
    page.wait_for_url(re.compile(r".*/checkout/preview/$"))
    # the preview: the shirt, 9,00 $US to ship to France (0.2 kg, EU + UK zone), 39,00 $US in all
    preview = flat(page.locator("body").inner_text())
    assert "T-shirt unisexe P6, Gris chiné, M" in preview
    assert "9,00 $US" in preview and "39,00 $US" in preview
    page.click("button:has-text('Passer commande')")
    page.wait_for_url(re.compile(r".*/checkout/pay/\d+/$"))
    order = Order.objects.get(number=page.url.rstrip("/").rsplit("/", 1)[1])
    type_card(page, GOOD_CARD)
    page.wait_for_url(re.compile(r".*/checkout/thank-you/$"))
    # the confirmation, in French: the order, its line in French, and the donation promised (shipping is
    # pass-through: the same 8,67 $US as the shirt alone)
    confirmation = flat(page.locator("body").inner_text())
    assert order.number in confirmation
    assert "T-shirt unisexe P6, Gris chiné, M" in confirmation
    assert flat(page.locator("#p6-order-donation").inner_text()).startswith(
        "Votre commande a donné 8,67 $US aux groupes LGBT russes. Merci !")
    order.refresh_from_db()
    assert order.status == "Paid"
    assert (order.shipping_incl_tax, order.total_incl_tax) == (Decimal("9.00"), Decimal("39.00"))
    assert [(line.partner_sku, line.title) for line in order.lines.all()] == [
        ("P6-TEE-HGR-M", "T-shirt unisexe P6, Gris chiné, M")]
    # and what was posted to the ledger is what was promised, to the cent
    sale = LedgerTransaction.objects.get(idempotency_key=f"sale:{order.number}")
    assert Entry.objects.get(transaction=sale, debit__gt=0).debit == Decimal("8.67")
