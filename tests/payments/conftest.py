"""Fixtures for the Stripe boundary: one localstripe process per session, emptied before each test."""

import pytest

from shop.payments.gateway import StripeGateway, get_gateway
from tests.stripe_peer import TEST_PUBLISHABLE_KEY, TEST_SECRET_KEY, LocalStripe

WEBHOOK_SECRET = "whsec_p6_test_secret"


@pytest.fixture(scope="session")
def localstripe_peer():
    with LocalStripe() as peer:
        yield peer


@pytest.fixture(scope="session")
def localstripe_url(localstripe_peer):
    """Base URL of a localstripe process on 127.0.0.1 (no persistence), shared by the session."""
    return localstripe_peer.url


@pytest.fixture
def gateway(localstripe_peer):
    """A gateway on localstripe with an empty store (flushed before the test)."""
    localstripe_peer.flush()
    return StripeGateway(
        secret_key=TEST_SECRET_KEY,
        webhook_secret=WEBHOOK_SECRET,
        api_base=localstripe_peer.url,
        timeout=5,
        max_network_retries=0,
        localstripe=True,
    )


@pytest.fixture
def stripe_peer(localstripe_peer, settings):
    """The shop configured against an emptied localstripe: what scripts/run does for the demo."""
    localstripe_peer.flush()
    settings.STRIPE_SECRET_KEY = TEST_SECRET_KEY
    settings.STRIPE_PUBLISHABLE_KEY = TEST_PUBLISHABLE_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = localstripe_peer.url
    settings.STRIPE_PEER = "localstripe"
    settings.STRIPE_TIMEOUT = 5
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    return localstripe_peer


@pytest.fixture
def shop_gateway(stripe_peer):
    """The gateway the shop itself builds from its settings (get_gateway), on the emptied localstripe."""
    return get_gateway()


def place_order(client, *, skus=(("P6-TEE-BLK-M", 1),), email="fan@example.org"):
    """A guest fan's checkout up to "Place order", through the real views; returns the order
    (Pending payment) and the response (a redirect to its payment page)."""
    from django.test import TestCase
    from django.urls import reverse
    from oscar.core.loading import get_model

    StockRecord = get_model("partner", "StockRecord")
    Order = get_model("order", "Order")
    for sku, quantity in skus:
        record = StockRecord.objects.select_related("product").get(partner_sku=sku)
        product = record.product
        data = {"quantity": quantity}
        if product.parent_id:
            data["child_id"] = product.pk
            product = product.parent
        assert client.post(reverse("basket:add", kwargs={"pk": product.pk}), data).status_code == 302
    client.post(reverse("checkout:index"), {"username": email, "options": "anonymous"})
    client.post(reverse("checkout:shipping-address"), {
        "first_name": "Ana", "last_name": "Fan", "line1": "1 Main St", "line4": "Boston", "state": "MA",
        "postcode": "02110", "country": "US",
    })
    client.get(reverse("checkout:shipping-method"))  # one method: Oscar picks it and moves on
    with TestCase.captureOnCommitCallbacks(execute=True):  # the order-placed email leaves after the commit
        response = client.post(reverse("checkout:preview"), {"action": "place_order"})
    assert response.status_code == 302, response.content[:2000]
    order = Order.objects.order_by("-pk").first()
    assert response["Location"] == reverse("checkout:pay", kwargs={"order_number": order.number})
    return order, response


@pytest.fixture
def campaign(db):
    """The campaign's beneficiaries and 50 % share rule, as scripts/run loads them."""
    from io import StringIO

    from django.core.management import call_command

    call_command("load_p6_fundraising", stdout=StringIO())


@pytest.fixture
def placed_order(client, p6_catalogue):
    order, _ = place_order(client)
    return order


# --- the Stripe-shaped fake (tests/fakestripe): real shapes, real fees, strict parameters -------------


@pytest.fixture(scope="session")
def fake_stripe_process():
    from tests.fakestripe import StripeFake

    with StripeFake() as fake:
        yield fake


@pytest.fixture
def fake_stripe(fake_stripe_process, settings):
    """The shop configured against an emptied Stripe-shaped fake (STRIPE_PEER "stripe": no localstripe
    leniency). Returns the StripeFake (control helpers: fault, complete_3ds, set_refund_status, event...)."""
    fake_stripe_process.flush()
    settings.STRIPE_SECRET_KEY = fake_stripe_process.secret_key
    settings.STRIPE_PUBLISHABLE_KEY = fake_stripe_process.publishable_key
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = fake_stripe_process.url
    settings.STRIPE_PEER = "stripe"
    settings.STRIPE_TIMEOUT = 5
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    return fake_stripe_process


@pytest.fixture
def fake_gateway(fake_stripe):
    return StripeGateway(secret_key=fake_stripe.secret_key, webhook_secret=WEBHOOK_SECRET, api_base=fake_stripe.url,
                         timeout=5, max_network_retries=0)
