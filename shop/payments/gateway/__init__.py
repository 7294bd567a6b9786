"""The Stripe gateway: the only package of the project that imports `stripe`.

Modules: `client` (`StripeGateway`, every request, and `get_gateway`), `errors` (ours, and the one
mapping of stripe-python's exceptions onto them), `objects` (what leaves the boundary, and the
conversions from Stripe's objects). Import the public names from `shop.payments.gateway`.

Everything that leaves this package is a frozen dataclass with `Decimal` amounts in major units and
upper-case ISO 4217 currency codes; minor units exist only in the client's calls and the conversions,
converted by Stripe's own rules (`fundraising.money.to_stripe_minor/from_stripe_minor`: ISK, HUF, TWD,
UGX as two-decimal amounts ending in 00, MGA zero-decimal, three-decimal amounts ending in 0).

Every request uses only parameters of stripe-python's generated params types for the pinned API
version (`stripe.params`); the tests' Stripe-shaped fake refuses any other, as Stripe does.

Errors: a card problem (`stripe.CardError`) becomes `CardDeclined`, an Oscar `UnableToTakePayment`
whose message can be shown to the fan; every other Stripe failure (network, timeout, auth, rate
limit, 4xx/5xx) becomes Oscar's `PaymentError`; a missing secret key is `GatewayNotConfigured`.
A confirmation that *returns* an intent carrying `last_payment_error` (e.g. failed 3DS) is not an
error: the intent is returned and the caller reads its status.

The same code talks to real Stripe and to localstripe (`STRIPE_API_BASE`); where localstripe
differs, the code says so next to the workaround.
"""

from oscar.apps.payment.exceptions import PaymentError, UnableToTakePayment

from shop.payments.gateway.client import StripeGateway, get_gateway
from shop.payments.gateway.errors import (
    CardDeclined,
    GatewayNotConfigured,
    InvalidWebhook,
    ObjectNotFound,
    StripeUnreachable,
)
from shop.payments.gateway.objects import BalanceTransaction, Charge, Dispute, PaymentIntent, Refund, WebhookEvent

__all__ = [
    "BalanceTransaction",
    "Charge",
    "CardDeclined",
    "Dispute",
    "GatewayNotConfigured",
    "InvalidWebhook",
    "ObjectNotFound",
    "PaymentError",
    "PaymentIntent",
    "Refund",
    "StripeUnreachable",
    "StripeGateway",
    "UnableToTakePayment",
    "WebhookEvent",
    "get_gateway",
]
