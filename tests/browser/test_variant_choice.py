"""A fan in Paris chooses a colour and a size in a real browser (issue 16, item 1): nothing preselected, the
price and the donation follow the choice, a sold-out size is disabled, and exactly that shirt is added."""

import pytest
from oscar.core.loading import get_model

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Product = get_model("catalogue", "Product")
StockRecord = get_model("partner", "StockRecord")
Line = get_model("basket", "Line")


def flat(text):
    return " ".join(text.replace("\u202f", " ").replace("\xa0", " ").split())


@pytest.fixture
def french_page(chromium):
    context = chromium.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


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
    page.click("#add_to_basket_form label.p6-swatch:has-text('Black')")
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
    page.click("#add_to_basket_form label.p6-swatch:has-text('White')")
    assert not option_s.is_disabled()
    # and adding puts exactly the white XXL in the basket, at its price
    page.select_option("select[name=size]", "XXL")
    with page.expect_navigation():
        page.click("#add_to_basket_form button[type=submit]")
    assert [(line.product.upc, line.quantity, str(line.price_excl_tax))
            for line in Line.objects.select_related("product")] == [("P6-TEE-WHT-XXL", 1, "32.00")]
