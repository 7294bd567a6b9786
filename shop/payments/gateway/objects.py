"""What leaves the gateway: frozen dataclasses with `Decimal` amounts in major units and upper-case ISO 4217
codes, and the conversions that make them from Stripe's objects (minor units by Stripe's own rules)."""

from dataclasses import dataclass, field
from decimal import Decimal

from fundraising.money import from_stripe_minor, normalise


@dataclass(frozen=True)
class PaymentIntent:
    id: str
    status: str
    amount: Decimal
    currency: str
    amount_received: Decimal
    client_secret: str | None
    payment_method: str | None
    latest_charge_id: str | None
    metadata: dict = field(hash=False)
    last_error_message: str | None
    next_action_type: str | None
    # Stripe's codes of `last_payment_error` (read by shop/checkout/declines.py to word a decline for the fan).
    last_error_code: str | None = None
    last_error_decline_code: str | None = None


@dataclass(frozen=True)
class Refund:
    id: str
    amount: Decimal
    currency: str
    status: str  # pending, requires_action, succeeded, failed, canceled
    charge_id: str | None
    payment_intent_id: str | None
    metadata: dict = field(hash=False)
    failure_reason: str | None = None


@dataclass(frozen=True)
class BalanceTransaction:
    """Money as it moved in the Stripe balance: `amount`, `fee` and `net` in the settlement `currency`;
    `exchange_rate` (settlement per presentment unit) when it differs from the charge's currency."""

    id: str
    amount: Decimal
    fee: Decimal
    net: Decimal
    currency: str
    exchange_rate: Decimal | None
    type: str


@dataclass(frozen=True)
class Charge:
    id: str
    status: str
    amount: Decimal
    amount_captured: Decimal
    amount_refunded: Decimal
    currency: str
    payment_intent_id: str | None
    # The fee in the charge's own currency, or None when Stripe settled it in another currency or has not
    # settled it yet (the caller then estimates it from the fee schedule).
    balance_transaction_fee: Decimal | None
    balance_transaction: BalanceTransaction | None
    refunds: tuple[Refund, ...]
    disputed: bool


@dataclass(frozen=True)
class Dispute:
    id: str
    amount: Decimal
    currency: str
    status: str
    charge_id: str | None
    payment_intent_id: str | None
    balance_transactions: tuple[BalanceTransaction, ...] = ()


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    created: int
    object_type: str
    object_id: str | None
    payload: dict = field(hash=False)


def id_of(value) -> str | None:
    """An id from a field that may hold an id, an expanded object or nothing."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        return value.get("id")
    return getattr(value, "id", None)


def intent_of(obj) -> PaymentIntent:
    d = obj.to_dict()
    currency = normalise(d["currency"])
    latest_charge = d.get("latest_charge")
    amount_received = d.get("amount_received")
    if amount_received is None:
        # localstripe has no amount_received; its latest_charge comes back embedded, so derive it
        # from a captured, succeeded charge (real Stripe always sends the field).
        amount_received = 0
        if (
            isinstance(latest_charge, dict)
            and latest_charge.get("status") == "succeeded"
            and latest_charge.get("captured")
        ):
            amount_received = latest_charge.get("amount_captured", latest_charge["amount"])
    error = d.get("last_payment_error") or {}
    next_action = d.get("next_action") or {}
    return PaymentIntent(
        id=d["id"],
        status=d["status"],
        amount=from_stripe_minor(d["amount"], currency),
        currency=currency,
        amount_received=from_stripe_minor(amount_received, currency),
        client_secret=d.get("client_secret"),
        payment_method=id_of(d.get("payment_method")),
        latest_charge_id=id_of(latest_charge),
        metadata=dict(d.get("metadata") or {}),
        last_error_message=error.get("message"),
        next_action_type=next_action.get("type"),
        last_error_code=error.get("code"),
        last_error_decline_code=error.get("decline_code"),
    )


def balance_transaction_of(d) -> BalanceTransaction | None:
    if not isinstance(d, dict):
        return None  # not expanded (an id) or none yet
    currency = normalise(d["currency"])
    rate = d.get("exchange_rate")
    return BalanceTransaction(
        id=d["id"],
        amount=from_stripe_minor(d["amount"], currency),
        fee=from_stripe_minor(d.get("fee") or 0, currency),
        net=from_stripe_minor(d.get("net") or 0, currency),
        currency=currency,
        # Stripe sends a JSON number; through str() so the Decimal is the number as written.
        exchange_rate=Decimal(str(rate)) if rate is not None else None,
        type=str(d.get("type") or ""),
    )


def dispute_of(d: dict) -> Dispute:
    currency = normalise(d["currency"])
    return Dispute(
        id=d["id"],
        amount=from_stripe_minor(d["amount"], currency),
        currency=currency,
        status=d["status"],
        charge_id=id_of(d.get("charge")),
        payment_intent_id=id_of(d.get("payment_intent")),
        balance_transactions=tuple(
            bt for bt in (balance_transaction_of(x) for x in d.get("balance_transactions") or []) if bt is not None
        ),
    )


def refund_of(d: dict) -> Refund:
    currency = normalise(d["currency"])
    return Refund(
        id=d["id"],
        amount=from_stripe_minor(d["amount"], currency),
        currency=currency,
        status=d["status"],
        charge_id=id_of(d.get("charge")),
        payment_intent_id=id_of(d.get("payment_intent")),
        metadata=dict(d.get("metadata") or {}),
        failure_reason=d.get("failure_reason"),
    )


def charge_of(d: dict, refunds: tuple[Refund, ...]) -> Charge:
    currency = normalise(d["currency"])
    txn = balance_transaction_of(d.get("balance_transaction"))
    # Only a transaction settled in the charge's own currency gives a fee we can use: in another
    # settlement currency the fee cannot be stated in the order's currency, so the caller falls back
    # to its fee schedule (never mix currencies).
    fee = txn.fee if txn is not None and txn.currency == currency else None
    amount = from_stripe_minor(d["amount"], currency)
    captured = d.get("amount_captured")
    return Charge(
        id=d["id"],
        status=str(d.get("status") or ""),
        amount=amount,
        # localstripe has no amount_captured: a captured charge there captured its whole amount.
        amount_captured=from_stripe_minor(captured, currency) if captured is not None
        else (amount if d.get("captured") else from_stripe_minor(0, currency)),
        amount_refunded=from_stripe_minor(d.get("amount_refunded") or 0, currency),
        currency=currency,
        payment_intent_id=id_of(d.get("payment_intent")),
        balance_transaction_fee=fee,
        balance_transaction=txn,
        refunds=refunds,
        # localstripe has no disputes: the field is absent there.
        disputed=bool(d.get("disputed", False)),
    )
