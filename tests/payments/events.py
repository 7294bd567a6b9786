"""Stripe events of exactly the shape Stripe sends, for the event types localstripe never sends.

An event (https://docs.stripe.com/api/events/object) is an envelope around a snapshot of one object:
`id` ("evt_..."), `object` ("event"), `api_version`, `created`, `data` (`object`, and
`previous_attributes` for the fields that changed), `livemode`, `pending_webhooks`, `request`
(`id`, `idempotency_key`: null for events Stripe raised by itself) and `type`.

Payment intents and charges are taken as localstripe returns them (GET /v1/payment_intents/{id},
GET /v1/charges/{id}); disputes, which localstripe does not have, are built by hand with the fields
of Stripe's dispute object (https://docs.stripe.com/api/disputes/object).

`signed_post` delivers an event to the shop's endpoint signed with the webhook secret, through the
real verification path. The few helpers at the end make the Stripe-side facts the events describe
(an intent paid at Stripe whose capture the shop never wrote).

No `stripe` import: the project imports it only in shop/payments/gateway/.
"""

import json
import secrets
import string
import time
from decimal import Decimal

from fundraising.money import normalise, to_minor
from shop.payments.gateway import Dispute
from shop.payments.gateway.objects import dispute_of as gateway_dispute_of
from shop.payments.signing import sign_webhook_payload
from tests.payments.conftest import WEBHOOK_SECRET
from tests.stripe_peer import request

WEBHOOK_URL = "/payments/stripe/webhook/"
# The API version of the account's events: the one stripe-python 16 pins.
API_VERSION = "2026-10-28.endive"

_ALPHABET = string.ascii_letters + string.digits


def stripe_id(prefix: str) -> str:
    """An id as Stripe makes them: a type prefix and 24 alphanumerics, e.g. evt_1NG8Du2eZvKYlo2CUI79vXWy."""
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(24))


# --- the envelope ---------------------------------------------------------------------------------


def event(
    type: str,
    obj: dict,
    *,
    previous_attributes: dict | None = None,
    event_id: str | None = None,
    created: int | None = None,
    request_id: str | None = None,
    idempotency_key: str | None = None,
) -> dict:
    """A snapshot event about `obj`. `request_id`/`idempotency_key` name the API request that caused
    it; both stay null, as Stripe sends them, for events Stripe raised by itself (a charge succeeding
    after confirmation, a dispute opened by the card issuer)."""
    data: dict = {"object": obj}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    return {
        "id": event_id or stripe_id("evt"),
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()) if created is None else created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": request_id, "idempotency_key": idempotency_key},
        "type": type,
    }


# --- payment intents and charges, as the peer holds them ------------------------------------------


def intent_object(base_url: str, intent_id: str) -> dict:
    return request("GET", base_url, f"/v1/payment_intents/{intent_id}")


def charge_object(base_url: str, charge_id: str) -> dict:
    return request("GET", base_url, f"/v1/charges/{charge_id}")


def intent_event(base_url: str, type: str, intent_id: str, **kwargs) -> dict:
    """`payment_intent.succeeded`, `payment_intent.payment_failed`, ... about the intent as it is now."""
    return event(type, intent_object(base_url, intent_id), **kwargs)


def charge_refunded_event(base_url: str, charge_id: str, *, previous_amount_refunded: int = 0, **kwargs) -> dict:
    """`charge.refunded` about the charge as it is now. Its `amount_refunded` is cumulative (every
    refund so far, in minor units); `previous_attributes` holds what it was before this event."""
    charge = charge_object(base_url, charge_id)
    previous = {"amount_refunded": previous_amount_refunded}
    if charge.get("refunded"):
        previous["refunded"] = False
    return event("charge.refunded", charge, previous_attributes=previous, **kwargs)


# --- disputes, which the peer does not have ------------------------------------------------------


def dispute_object(
    *,
    charge_id: str,
    payment_intent_id: str | None,
    amount: Decimal,
    currency: str = "USD",
    status: str = "needs_response",
    reason: str = "fraudulent",
    dispute_id: str | None = None,
    created: int | None = None,
) -> dict:
    """A Stripe dispute object. A lost dispute carries the balance transaction that took the money
    (and Stripe's dispute fee) back; an open or won one carries none yet."""
    currency = normalise(currency)
    minor = to_minor(amount, currency)
    created = int(time.time()) - 3600 if created is None else created
    dispute_id = dispute_id or stripe_id("dp")
    balance_transactions = []
    if status == "lost":
        balance_transactions.append({
            "id": stripe_id("txn"), "object": "balance_transaction", "amount": -minor,
            "available_on": created + 86400, "created": created, "currency": currency.lower(),
            "description": f"Chargeback withdrawal for {charge_id}", "exchange_rate": None,
            "fee": 1500, "fee_details": [{"amount": 1500, "application": None, "currency": currency.lower(),
                                          "description": "Dispute fee", "type": "stripe_fee"}],
            "net": -minor - 1500, "reporting_category": "dispute", "source": dispute_id,
            "status": "available", "type": "adjustment",
        })
    return {
        "id": dispute_id,
        "object": "dispute",
        "amount": minor,
        "balance_transactions": balance_transactions,
        "charge": charge_id,
        "created": created,
        "currency": currency.lower(),
        "evidence": {},
        "evidence_details": {
            "due_by": created + 7 * 86400,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": payment_intent_id,
        "reason": reason,
        "status": status,
    }


def dispute_event(type: str, dispute: dict, *, previous_status: str | None = None, **kwargs) -> dict:
    """`charge.dispute.created` / `charge.dispute.closed` (with the status it had before)."""
    previous = {"status": previous_status} if previous_status else None
    return event(type, dispute, previous_attributes=previous, **kwargs)


def dispute_of(obj: dict) -> Dispute:
    """What the gateway's `retrieve_dispute` returns for this Stripe dispute object: the gateway's own
    conversion, so the double differs from Stripe only in where the object comes from."""
    return gateway_dispute_of(obj)


# --- delivery -------------------------------------------------------------------------------------


def post_body(client, body: bytes, *, signature: str | None, **extra):
    """POST raw bytes to the webhook endpoint as Stripe does (JSON, with a Stripe-Signature header)."""
    if signature is not None:
        extra["HTTP_STRIPE_SIGNATURE"] = signature
    return client.post(WEBHOOK_URL, data=body, content_type="application/json", **extra)


def signed_post(client, event_dict: dict, secret: str = WEBHOOK_SECRET, timestamp: int | None = None):
    """Deliver `event_dict` signed with `secret` at `timestamp` (now when None)."""
    body = json.dumps(event_dict).encode()
    return post_body(client, body, signature=sign_webhook_payload(payload=body, secret=secret, timestamp=timestamp))


# --- Stripe-side facts ----------------------------------------------------------------------------


def record_attempt(order, intent, *, number: int = 1):
    """The PaymentAttempt row `pay_order` writes as soon as Stripe has made the intent."""
    from shop.payments.models import PaymentAttempt

    return PaymentAttempt.objects.create(
        order=order, number=number, intent_id=intent.id, amount=intent.amount, currency=intent.currency,
    )


def paid_at_stripe_only(gateway, order, *, amount: Decimal | None = None, currency: str | None = None,
                        number: int = 1, payment_method: str = "pm_card_visa"):
    """The fan's money taken at Stripe while the shop wrote only the attempt (the process died
    between Stripe's success and our write, or the fan's browser went away): returns the intent."""
    intent = gateway.create_intent(
        amount=order.total_incl_tax if amount is None else amount, currency=currency or order.currency,
        order_number=str(order.number), attempt=number,
    )
    record_attempt(order, intent, number=number)
    paid = gateway.confirm_intent(intent.id, payment_method=payment_method)
    assert paid.status == "succeeded"
    return paid


# --- what the shop wrote --------------------------------------------------------------------------


def shop_rows() -> dict:
    """Everything the payment paths can write, as counts and states: equal before and after a
    request means that request wrote nothing."""
    from oscar.core.loading import get_model

    from shop.payments.models import ExcessPayment, PaymentAttempt, StripeEvent, StripeRefund

    Order = get_model("order", "Order")
    Line = get_model("order", "Line")
    OrderNote = get_model("order", "OrderNote")
    PaymentEvent = get_model("order", "PaymentEvent")
    PaymentEventQuantity = get_model("order", "PaymentEventQuantity")
    Source = get_model("payment", "Source")
    Transaction = get_model("payment", "Transaction")
    StockRecord = get_model("partner", "StockRecord")
    return {
        "orders": sorted(Order.objects.values_list("number", "status")),
        "lines": sorted(Line.objects.values_list("pk", "status", "num_allocated")),
        "allocated": sorted(StockRecord.objects.filter(num_allocated__gt=0).values_list("pk", "num_allocated")),
        "notes": OrderNote.objects.count(),
        "sources": sorted(Source.objects.values_list("pk", "amount_debited", "amount_refunded")),
        "transactions": Transaction.objects.count(),
        "payment_events": PaymentEvent.objects.count(),
        "payment_event_quantities": PaymentEventQuantity.objects.count(),
        "attempts": sorted(PaymentAttempt.objects.values_list("intent_id", "status"), key=lambda r: (r[0] or "", r[1])),
        "excess": sorted(ExcessPayment.objects.values_list("charge_id", "status", "amount")),
        "refunds": sorted(StripeRefund.objects.values_list("pk", "refund_id", "status", "amount")),
        "stripe_events": sorted(StripeEvent.objects.values_list("event_id", "outcome", "deliveries")),
    }
