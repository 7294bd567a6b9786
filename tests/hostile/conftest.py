# The Stripe boundary's fixtures (a localstripe process, the shop configured against it).
from tests.payments.conftest import gateway, localstripe_peer, localstripe_url, placed_order, stripe_peer  # noqa: F401
# The fundraising builders' fixtures (beneficiaries, the 50 % rule, USD stock records with unit costs).
from tests.fundraising.conftest import beneficiaries, pin, rule, shirt  # noqa: F401,E402
