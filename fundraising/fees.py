"""The payment fee of a sale: one rule for the donation promised before payment and the one posted after.

A sale posts the fee Stripe reports for its charge (the balance transaction's, in the order's currency).
When none is reported (settled in another currency, not settled yet, Stripe unreachable, no charge, or a
peer whose fee is not real: localstripe reports 0.00 for a fee it never took, and the gateway passes that
on as no fee) the configured schedule gives it, ``STRIPE_FEE_PERCENT`` % + ``STRIPE_FEE_FIXED`` on the
amount paid, flagged as estimated. A promise is made before any fee is reported: it is the same rule with
nothing reported. So the promise is the posting to the cent whenever Stripe reports no fee, and differs
from it by the fee difference only when Stripe reports one (the fan is told "about").

Shipping is pass-through (DESIGN, profit rule), and so is the fee on it: the fee a sale posts is the fee on the
goods alone. With the schedule that is the schedule on the amount paid less shipping, so an order with shipping
posts (and is promised) the very donation of the same lines without it. A reported fee covers the whole charge:
its shipping part, pro-rata to the amount (half-up, once), is left out, and the campaign, not the beneficiaries,
bears it (shipping is charged at cost; the fee on it is a cost of shipping, not of the goods).

The settings are read here and nowhere else, once per call, as Decimals from their text.
"""

from decimal import Decimal

from django.conf import settings

from fundraising import allocation
from fundraising.money import Fee, quantize

UNREPORTED = Fee(amount=None, estimated=True)


def scheduled_fee(*, amount: Decimal, currency: str) -> Decimal:
    """The configured schedule's fee on ``amount`` (rounded half-up to the minor unit once, by
    ``allocation.estimate_fee``). Raises as ``allocation.estimate_fee``."""
    return allocation.estimate_fee(amount=amount, currency=currency, percent=Decimal(str(settings.STRIPE_FEE_PERCENT)),
                                   fixed=Decimal(str(settings.STRIPE_FEE_FIXED)))


def sale_fee(*, reported: Fee, amount: Decimal, currency: str, shipping: Decimal = Decimal("0")) -> Fee:
    """The fee a sale of ``amount`` (what the fan paid, ``shipping`` included) posts against its goods: the
    ``reported`` one when it has an amount (flagged as it says) less its shipping part
    (``reported × shipping / amount``, half-up once), else the schedule's on ``amount − shipping``, flagged
    estimated whatever ``reported`` says.
    Raises ``TypeError`` when ``reported`` is not a ``Fee``; ``ValueError`` when ``shipping`` is negative or
    above ``amount``; as ``scheduled_fee`` for a bad ``amount``."""
    if not isinstance(reported, Fee):
        raise TypeError(f"fee must be a Fee(amount, estimated), not {type(reported).__name__}")
    if shipping < 0 or shipping > amount:
        raise ValueError(f"shipping {shipping} outside 0..{amount}")
    if reported.amount is not None:
        fee = reported.amount
        if shipping and amount:
            fee -= quantize(reported.amount * shipping / amount, currency)
        return Fee(amount=fee, estimated=bool(reported.estimated))
    return Fee(amount=scheduled_fee(amount=amount - shipping, currency=currency), estimated=True)


def promised_fee(*, amount: Decimal, currency: str, shipping: Decimal = Decimal("0")) -> Decimal:
    """The fee a promise counts on a payment of ``amount`` (``shipping`` included): the sale's rule with no fee
    reported yet."""
    return sale_fee(reported=UNREPORTED, amount=amount, currency=currency, shipping=shipping).amount
