"""Fixtures for the Stripe boundary: one localstripe process per session, emptied before each test."""

import pytest

from shop.payments.gateway import StripeGateway
from tests.stripe_peer import TEST_SECRET_KEY, LocalStripe

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
    )
