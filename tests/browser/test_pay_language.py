"""A refused card is told in the fan's language on the payment page (issue 16, item 6), through the page's
script and localstripe's declining test card."""

import pytest
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext

from tests.browser.test_purchase import DECLINED_CARD, checkout_tshirt_as_guest, type_card

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DECLINED = "Your card was declined, so no payment was taken. Please try another card, or ask your bank."


@pytest.mark.parametrize("lang", ["fr", "ru"])
def test_a_declined_card_is_told_in_the_fans_language(page, shop, lang):
    # given a fan's order on its payment page, the fan reading the shop in French or Russian
    order = checkout_tshirt_as_guest(page, shop)
    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": lang, "url": shop}])
    page.reload()
    assert page.get_attribute("html", "lang") == lang
    # when the card is declined
    type_card(page, DECLINED_CARD)
    message = page.locator("#payment-message")
    message.wait_for(state="visible")
    # then the fan reads our sentence in their language, and the order stays payable
    with translation.override(lang):
        expected = gettext(DECLINED)
    assert expected != DECLINED
    assert message.inner_text().strip() == expected
    order.refresh_from_db()
    assert order.status == "Pending payment"
