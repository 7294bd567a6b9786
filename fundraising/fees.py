"""The payment fee of a sale: one rule for the donation promised before payment and the one posted after.

A sale posts the fee Stripe reports for its charge (the balance transaction's, in the order's currency).
When none is reported (settled in another currency, not settled yet, Stripe unreachable, no charge, or a
peer whose fee is not real: localstripe reports 0.00 for a fee it never took, and the gateway passes that
on as no fee) the configured schedule gives it, ``STRIPE_FEE_PERCENT`` % + ``STRIPE_FEE_FIXED`` on the
amount paid, flagged as estimated. A promise is made before any fee is reported: it is the same rule with
nothing reported. So the promise is the posting to the cent whenever Stripe reports no fee, and differs
from it by the fee difference only when Stripe reports one (the fan is told "about").

Shipping and tax are pass-through (DESIGN, profit rule: revenue excludes tax, shipping is charged at cost), and so
is the fee on them: the fee a sale posts is the fee on the goods' revenue alone. What passes through is everything
the fan paid beyond the lines' revenue excluding tax (`pass_through`): shipping and every tax. With the schedule
the fee is the schedule on the amount paid less that, so an order with shipping or tax posts (and is promised) the
very donation of the same lines without them. A reported fee covers the whole charge: its pass-through part,
pro-rata to the amount (half-up, once), is left out, and the campaign, not the beneficiaries, bears it (the fee
on shipping is a cost of shipping, the fee on tax a cost of collecting it, neither a cost of the goods).

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


def pass_through(*, paid: Decimal, revenue_excl_tax: Decimal) -> Decimal:
    """What a fan ``paid`` beyond the goods' revenue excluding tax: shipping and every tax, which pass through.
    Raises ``ValueError`` when the revenue is above what was paid (a line total that is not the order's)."""
    if revenue_excl_tax > paid:
        raise ValueError(f"revenue excluding tax {revenue_excl_tax} above the amount paid {paid}")
    return paid - revenue_excl_tax


def sale_fee(*, reported: Fee, amount: Decimal, currency: str, pass_through: Decimal = Decimal("0")) -> Fee:
    """The fee a sale of ``amount`` (what the fan paid, shipping and tax included) posts against its goods: the
    ``reported`` one when it has an amount (flagged as it says) less its ``pass_through`` part
    (``reported × pass_through / amount``, half-up once), else the schedule's on ``amount − pass_through``,
    flagged estimated whatever ``reported`` says.
    Raises ``TypeError`` when ``reported`` is not a ``Fee``; ``ValueError`` when ``pass_through`` is negative or
    above ``amount``; as ``scheduled_fee`` for a bad ``amount``."""
    if not isinstance(reported, Fee):
        raise TypeError(f"fee must be a Fee(amount, estimated), not {type(reported).__name__}")
    if pass_through < 0 or pass_through > amount:
        raise ValueError(f"pass-through {pass_through} outside 0..{amount}")
    if reported.amount is not None:
        fee = reported.amount
        if pass_through and amount:
            fee -= quantize(reported.amount * pass_through / amount, currency)
        return Fee(amount=fee, estimated=bool(reported.estimated))
    return Fee(amount=scheduled_fee(amount=amount - pass_through, currency=currency), estimated=True)


def promised_fee(*, amount: Decimal, currency: str, pass_through: Decimal = Decimal("0")) -> Decimal:
    """The fee a promise counts on a payment of ``amount`` (``pass_through`` included): the sale's rule with no
    fee reported yet."""
    return sale_fee(reported=UNREPORTED, amount=amount, currency=currency, pass_through=pass_through).amount
