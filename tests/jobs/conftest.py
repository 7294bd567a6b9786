# The Stripe boundary's fixtures, for the emails owed by a real checkout, capture and refund (test_outbox).
from tests.payments.conftest import localstripe_peer, stripe_peer  # noqa: F401
