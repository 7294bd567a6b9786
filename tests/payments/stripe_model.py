"""Stripe's side of each order's money, derived only from the fake's objects (tests/fakestripe).

The payment state machine (test_payment_state_machine.py) compares this with what the shop wrote. Nothing
here reads the shop's database: a charge belongs to an order by the `order_number` Stripe copied from its
PaymentIntent's metadata, a refund or dispute to the charge it names.

Money rules (what counts as money moved at Stripe):
- a charge counts when its status is "succeeded" and it was captured (the fake captures automatically);
- a refund counts only when its status is "succeeded": a pending refund is not yet money back, and a
  failed or canceled one (even after it had succeeded) gave the money back to the shop;
- a dispute counts only when it is "lost"; open disputes have their funds withdrawn at Stripe, but the shop
  books a dispute when it is decided (and a won one reinstates the funds).
"""

from dataclasses import dataclass, field
from decimal import Decimal

from fundraising.money import from_minor

LIVE_INTENT = ("requires_payment_method", "requires_confirmation", "requires_action", "processing")


@dataclass
class StripeCharge:
    id: str
    intent_id: str
    amount: Decimal
    amount_refunded: Decimal  # at Stripe: pending and succeeded refunds
    succeeded: bool
    disputed: bool
    refunds: dict = field(default_factory=dict)  # refund id -> (status, amount)
    disputes: dict = field(default_factory=dict)  # dispute id -> (status, amount)

    @property
    def refunded(self):
        return sum((amount for status, amount in self.refunds.values() if status == "succeeded"), Decimal(0))

    @property
    def lost(self):
        return sum((amount for status, amount in self.disputes.values() if status == "lost"), Decimal(0))

    @property
    def net(self):
        """Money Stripe kept from the customer for this charge."""
        return self.amount - self.refunded - self.lost if self.succeeded else Decimal(0)

    @property
    def given_back(self):
        """True when the charge is on its way back to the customer: refunds (pending or succeeded) cover
        it in full, or the card issuer took it over (a dispute)."""
        in_flight = sum((amount for status, amount in self.refunds.values() if status in ("pending", "succeeded")),
                        Decimal(0))
        return in_flight >= self.amount or bool(self.disputes)


@dataclass
class StripeOrder:
    number: str
    intents: dict = field(default_factory=dict)  # intent id -> status
    charges: dict = field(default_factory=dict)  # charge id -> StripeCharge (succeeded and failed)

    @property
    def succeeded(self):
        return {cid: c for cid, c in self.charges.items() if c.succeeded}

    @property
    def live_intents(self):
        return [iid for iid, status in self.intents.items() if status in LIVE_INTENT]

    @property
    def net(self):
        return sum((c.net for c in self.succeeded.values()), Decimal(0))


@dataclass
class StripeState:
    orders: dict  # order number -> StripeOrder
    refunds: dict  # refund id -> raw refund
    disputes: dict  # dispute id -> raw dispute
    charges: dict  # charge id -> StripeCharge (every order's)

    def order(self, number):
        return self.orders.get(str(number)) or StripeOrder(str(number))


def _money(minor, currency):
    return from_minor(int(minor), currency.upper())


def stripe_state(fake):
    """Everything Stripe holds, grouped by order (three control calls to the fake)."""
    intents = fake.objects("payment_intent")
    charges = fake.objects("charge")
    refunds = fake.objects("refund")
    disputes = fake.objects("dispute")
    orders, by_charge = {}, {}
    for intent in intents:
        number = (intent.get("metadata") or {}).get("order_number")
        if number:
            orders.setdefault(number, StripeOrder(number)).intents[intent["id"]] = intent["status"]
    for charge in charges:
        number = (charge.get("metadata") or {}).get("order_number")
        currency = charge["currency"]
        model = StripeCharge(
            id=charge["id"], intent_id=charge["payment_intent"], amount=_money(charge["amount"], currency),
            amount_refunded=_money(charge["amount_refunded"], currency),
            succeeded=charge["status"] == "succeeded" and bool(charge["captured"]), disputed=bool(charge["disputed"]),
        )
        by_charge[charge["id"]] = model
        if number:
            orders.setdefault(number, StripeOrder(number)).charges[charge["id"]] = model
    for refund in refunds:
        charge = by_charge.get(refund["charge"])
        if charge is not None:
            charge.refunds[refund["id"]] = (refund["status"], _money(refund["amount"], refund["currency"]))
    for dispute in disputes:
        charge = by_charge.get(dispute["charge"])
        if charge is not None:
            charge.disputes[dispute["id"]] = (dispute["status"], _money(dispute["amount"], dispute["currency"]))
    return StripeState(orders=orders, refunds={r["id"]: r for r in refunds},
                       disputes={d["id"]: d for d in disputes}, charges=by_charge)
