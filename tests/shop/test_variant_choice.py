"""A fan chooses a shirt by colour and size (issue 16, item 1): nothing preselected, sizes in size order, sold-out
combinations disabled and refused, each variant's price and donation in the page, and a size chart."""

import re
from decimal import Decimal as D

import pytest
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.urls import reverse
from oscar.core.loading import get_model

from tests.fundraising.dashboard_support import Sink

pytestmark = pytest.mark.django_db

Product = get_model("catalogue", "Product")
StockRecord = get_model("partner", "StockRecord")
Line = get_model("basket", "Line")


@pytest.fixture
def campaign(p6_catalogue):
    call_command("load_p6_fundraising", stdout=Sink())


def tee():
    return Product.objects.get(upc="P6-TEE")


def page(client, product=None):
    return client.get((product or tee()).get_absolute_url()).content.decode()


def variant_options(html):
    """{(colour, size): {attribute: value}} of the page's hidden variant list (child_id)."""
    select = re.search(r'<select name="child_id".*?</select>', html, re.S).group(0)
    found = {}
    for attrs in re.findall(r'<option value="\d+"([^>]*)>', select):
        data = dict(re.findall(r'data-([\w-]+)="([^"]*)"', attrs))
        data["disabled"] = " disabled" in attrs
        found[(data["colour"], data["size"])] = data
    return found


def size_options(html):
    select = re.search(r'<select name="size".*?</select>', html, re.S).group(0)
    return re.findall(r'<option value="([^"]*)"([^>]*)>\s*([^<]*?)\s*</option>', select)


def add(client, data, product=None):
    return client.post(reverse("basket:add", kwargs={"pk": (product or tee()).pk}), {"quantity": 1, **data},
                       follow=True)


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def lines():
    return [(line.product.upc, line.quantity, line.price_excl_tax) for line in Line.objects.select_related("product")]


def test_the_page_offers_colours_and_sizes_in_size_order_with_nothing_chosen(client, campaign):
    html = page(client)
    # then a swatch per colour, in the catalogue's order, none checked
    colours = re.findall(r'<input type="radio" name="colour" value="([^"]+)"([^>]*)>', html)
    assert [c for c, _ in colours] == ["Black", "White", "Heather Grey"]
    assert not any("checked" in attrs for _, attrs in colours)
    # and the sizes from XS to XXL after a "Choose a size" that is selected by default
    sizes = size_options(html)
    assert [(value, label) for value, _, label in sizes] == [
        ("", "Choose a size"), ("XS", "XS"), ("S", "S"), ("M", "M"), ("L", "L"), ("XL", "XL"), ("XXL", "XXL")]
    assert not any("selected" in attrs for _, attrs, _ in sizes)
    # and no variant is preselected: the variant list starts with an empty, selected choice
    assert re.search(r'<select name="child_id"[^>]*>\s*<option value="" selected>', html)
    assert len(variant_options(html)) == 18


def test_the_page_carries_each_variants_exact_price_and_donation(client, campaign):
    # given the 50 % rule: XXL 32.00, cost 12.75 → fee 1.23, profit 18.02 → 9.01; M 30.00, cost 11.50 → 8.67
    options = variant_options(page(client))
    assert options[("Black", "XXL")]["price"] == "$32.00"
    assert options[("Black", "XXL")]["donation"] == "$9.01"
    assert options[("Heather Grey", "M")]["price"] == "$30.00"
    assert options[("Heather Grey", "M")]["donation"] == "$8.67"
    assert {o["price"] for o in options.values()} == {"$30.00", "$32.00"}
    # and the sentence the script fills for a chosen variant
    assert ("50% of the profit on this item goes to Russian LGBT groups — about {amount} per item."
            in " ".join(page(client).split()))


def test_without_a_rule_the_page_carries_prices_but_no_donation(client, p6_catalogue):
    options = variant_options(page(client))
    assert options[("Black", "M")]["price"] == "$30.00"
    assert "donation" not in options[("Black", "M")]
    assert 'id="p6-donation-sentence"' not in page(client)


def test_posting_without_a_choice_is_refused_with_a_message_and_adds_nothing(client, campaign):
    response = add(client, {})
    assert messages_of(response) == ["Please choose a colour and a size."]
    assert lines() == []
    # and the same with the empty fields a browser without JavaScript posts
    response = add(client, {"colour": "", "size": "", "child_id": ""})
    assert messages_of(response) == ["Please choose a colour and a size."]
    assert lines() == []


@pytest.mark.parametrize(("data", "message"), [
    ({"colour": "Black"}, "Please choose a size."),
    ({"size": "M"}, "Please choose a colour."),
    ({"colour": "Purple", "size": "M"}, "Select a valid choice. Purple is not one of the available choices."),
    ({"colour": "Black", "size": "XXXL"}, "Select a valid choice. XXXL is not one of the available choices."),
])
def test_a_half_or_unknown_choice_is_refused_and_adds_nothing(client, campaign, data, message):
    assert messages_of(add(client, data)) == [message]
    assert lines() == []


def test_a_refused_post_shows_the_page_again_with_what_was_chosen(client, campaign):
    # (a browser sends the product page as the referrer, where Oscar sends a refused fan back)
    response = client.post(reverse("basket:add", kwargs={"pk": tee().pk}), {"quantity": 1, "colour": "White"},
                           HTTP_REFERER=f"http://testserver{tee().get_absolute_url()}", follow=True)
    html = response.content.decode()
    assert messages_of(response) == ["Please choose a size."]
    assert "Please choose a size." in html
    assert response.redirect_chain[-1][0].endswith(tee().get_absolute_url())
    assert re.search(r'<input type="radio" name="colour" value="White" required checked>', html)


def test_colour_and_size_add_exactly_that_variant_at_its_price(client, campaign):
    add(client, {"colour": "Heather Grey", "size": "XXL"})
    assert lines() == [("P6-TEE-HGR-XXL", 1, D("32.00"))]
    add(client, {"colour": "Black", "size": "M"})
    assert sorted(lines()) == [("P6-TEE-BLK-M", 1, D("30.00")), ("P6-TEE-HGR-XXL", 1, D("32.00"))]


def test_a_variant_id_is_still_accepted_and_must_agree_with_a_posted_choice(client, campaign):
    black_m = StockRecord.objects.get(partner_sku="P6-TEE-BLK-M").product
    add(client, {"child_id": black_m.pk})
    assert lines() == [("P6-TEE-BLK-M", 1, D("30.00"))]
    response = add(client, {"child_id": black_m.pk, "colour": "White", "size": "M"})
    assert messages_of(response) == ["Please choose the colour and the size again."]
    assert lines() == [("P6-TEE-BLK-M", 1, D("30.00"))]


def test_a_sold_out_combination_is_disabled_in_the_page_and_cannot_be_added(client, campaign):
    # given the black M is sold out
    StockRecord.objects.filter(partner_sku="P6-TEE-BLK-M").update(num_in_stock=0)
    html = page(client)
    # then its variant is disabled and labelled sold out, and the page lists it
    options = variant_options(html)
    assert [key for key, option in options.items() if option["disabled"]] == [("Black", "M")]
    assert re.search(r'data-colour="Black" data-size="M"[^>]*disabled>Colour: Black, Size: M — sold out<', html)
    assert "Sold out: Black M" in " ".join(html.split())
    # (M is still offered: the other colours have it)
    assert ("M", ' data-size="M"', "M") in size_options(html)
    # when a fan posts it anyway, by colour and size or by id
    response = add(client, {"colour": "Black", "size": "M"})
    assert messages_of(response) == ["Black in size M is sold out: please choose another colour or size."]
    response = add(client, {"child_id": StockRecord.objects.get(partner_sku="P6-TEE-BLK-M").product_id})
    assert "no stock available" in " ".join(messages_of(response)).lower()
    # then nothing is added
    assert lines() == []


def test_a_size_sold_out_in_every_colour_is_disabled_in_the_size_choice(client, campaign):
    StockRecord.objects.filter(partner_sku__in=["P6-TEE-BLK-XS", "P6-TEE-WHT-XS", "P6-TEE-HGR-XS"]).update(
        num_in_stock=0)
    sizes = size_options(page(client))
    assert ("XS", " data-size=\"XS\" disabled", "XS — sold out") in sizes


def test_apparel_has_a_size_chart_in_cm_and_inches(client, campaign):
    html = " ".join(page(client).split())
    assert "<summary>Size chart</summary>" in html
    # M: chest 51 cm = 20.1 in, length 74 cm = 29.1 in
    assert '<tr><th scope="row">M</th><td>51</td><td>20.1</td><td>74</td><td>29.1</td></tr>' in html
    # the hoodie's chart has its own sizes only (S to XXL)
    hoodie = " ".join(page(client, Product.objects.get(upc="P6-HOOD")).split())
    assert re.findall(r'<tr><th scope="row">(\w+)</th>', hoodie) == ["S", "M", "L", "XL", "XXL"]
    # and a tote bag has none
    assert "Size chart" not in page(client, Product.objects.get(upc="P6-TOTE"))


def test_the_page_is_in_french_with_french_prices(client, campaign):
    html = " ".join(client.get(tee().get_absolute_url(), HTTP_ACCEPT_LANGUAGE="fr").content.decode().split())
    assert "Choisissez une taille" in html and "Guide des tailles" in html
    options = variant_options(html)
    assert options[("Black", "XXL")]["price"].replace("\u202f", " ").replace("\xa0", " ") == "32,00 $US"
    assert options[("Black", "XXL")]["donation"].replace("\u202f", " ").replace("\xa0", " ") == "9,01 $US"


def test_the_choice_is_in_russian(client, campaign):
    html = " ".join(client.get(tee().get_absolute_url(), HTTP_ACCEPT_LANGUAGE="ru").content.decode().split())
    assert "<legend class=\"col-form-label\">Цвет</legend>" in html
    assert "Выберите размер" in html and "Таблица размеров" in html and "Ширина груди (см)" in html
    response = client.post(reverse("basket:add", kwargs={"pk": tee().pk}), {"quantity": 1},
                           HTTP_ACCEPT_LANGUAGE="ru", follow=True)
    assert messages_of(response) == ["Пожалуйста, выберите цвет и размер."]
    assert lines() == []
