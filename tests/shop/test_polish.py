"""Polish a fan and staff notice (issue 16, item 6): no review stars in a shop without reviews, a favicon,
and the pay page's fallback message in the fan's language."""

import re

import pytest
from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import translation
from django.utils.translation import gettext
from oscar.core.loading import get_model

from shop.favicon import ICON

pytestmark = pytest.mark.django_db

Product = get_model("catalogue", "Product")

REVIEW_MARKUP = ("star-rating", "fa-star", "review", "Review")


def _tee():
    return Product.objects.get(title="P6 Unisex T-shirt", parent__isnull=True)


# --- reviews: off -----------------------------------------------------------------------------------------


def test_reviews_are_a_hidden_feature_of_this_shop():
    # Nobody moderates reviews here, and Oscar's defaults publish anonymous ones at once: the feature is off.
    assert "reviews" in settings.OSCAR_HIDDEN_FEATURES


@pytest.mark.parametrize("page", ["home", "catalogue", "product", "variant"])
def test_fan_pages_show_no_review_stars_nor_review_links(client, p6_catalogue, page):
    # given the P6 catalogue (product cards on the home and catalogue pages, a parent's and a variant's page)
    url = {
        "home": lambda: reverse("p6-home"),
        "catalogue": lambda: reverse("catalogue:index"),
        "product": lambda: _tee().get_absolute_url(),
        "variant": lambda: _tee().children.first().get_absolute_url(),
    }[page]()
    # when a fan opens the page
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    # then it has product cards or a product, and no star rating, review block or "write a review" link
    assert "P6 Unisex T-shirt" in html
    for markup in REVIEW_MARKUP:
        assert markup not in html, (page, markup)


def test_the_review_pages_do_not_exist(client, p6_catalogue):
    tee = _tee()
    # Oscar leaves a hidden feature's URLs out of the URLconf
    with pytest.raises(NoReverseMatch):
        reverse("catalogue:reviews-add", kwargs={"product_slug": tee.slug, "product_pk": tee.pk})
    assert client.get(f"{tee.get_absolute_url()}reviews/add/").status_code == 404


# --- favicon ------------------------------------------------------------------------------------------------


def test_favicon_ico_answers_with_the_shops_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/vnd.microsoft.icon"
    assert response.content == ICON
    assert ICON[:4] == b"\x00\x00\x01\x00"  # an ICO file (reserved 0, type 1 = icon)
    assert "max-age=86400" in response["Cache-Control"]
    assert client.post("/favicon.ico").status_code == 405


def test_every_page_links_the_icon(client, p6_catalogue):
    html = client.get(reverse("p6-home")).content.decode()
    [link] = re.findall(r'<link rel="icon" href="([^"]+)"', html)
    assert re.fullmatch(r"/static/shop/favicon(\.[0-9a-f]+)?\.ico", link), link
    assert "oscar/favicon.ico" not in html  # Oscar's own icon is replaced, not added to


# --- the pay page's fallback message --------------------------------------------------------------------


@pytest.mark.parametrize("lang, expected", [
    ("fr", "Le paiement n&#x27;a pas abouti, aucun montant n&#x27;a donc été débité. Veuillez réessayer."),
    ("ru", "Платёж не прошёл, поэтому деньги не были списаны. Пожалуйста, попробуйте ещё раз."),
])
def test_the_pay_pages_fallback_message_and_stripe_js_speak_the_fans_language(client, p6_catalogue, lang, expected):
    from tests.payments.conftest import place_order

    order, _ = place_order(client)
    page = client.get(reverse("checkout:pay", kwargs={"order_number": order.number}), HTTP_ACCEPT_LANGUAGE=lang)
    html = page.content.decode()
    assert f'data-failed="{expected}"' in html
    assert f'data-locale="{lang}"' in html
    with translation.override(lang):
        english = "The payment did not go through, so no payment was taken. Please try again."
        assert gettext(english) != english
