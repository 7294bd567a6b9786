# The Stripe boundary's fixtures (a localstripe process, the shop configured against it).
from tests.payments.conftest import gateway, localstripe_peer, localstripe_url, placed_order, stripe_peer  # noqa: F401
