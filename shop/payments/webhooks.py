"""Stripe webhooks (DESIGN "Stripe boundary"), in the manner of dj-stripe.

The endpoint verifies the signature (Stripe's tolerance), stores each event once by event id with its
raw payload, processes it inside one database transaction and records the outcome. It answers 2xx only
when the event was processed or deliberately ignored (an unknown type, an intent that is not ours, an
object Stripe does not have: the reason is kept on the event row), and
5xx when processing failed, so Stripe delivers it again; a duplicate of a processed event is a no-op.

Objects are re-retrieved from Stripe rather than trusted from the payload: the payload may be stale
(events arrive out of order) or, in the worst case, not from Stripe at all despite a leaked secret.
"""

import logging

from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from oscar.apps.payment.exceptions import PaymentError

from shop.payments import services
from shop.payments.gateway import InvalidWebhook, ObjectNotFound, get_gateway
from shop.payments.models import StripeEvent

logger = logging.getLogger("shop.payments.webhooks")

# Stripe's own events are a few KiB; anything much larger is not from Stripe.
MAX_BODY_BYTES = 256 * 1024
MAX_ID_LENGTH = 255  # StripeEvent's event_id, type and object_id columns


class Ignored(Exception):
    """An event we deliberately do not act on; `str()` says why (stored as the outcome's detail)."""


@csrf_exempt
@require_POST
def stripe_webhook(request):
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:  # hostile input is a bad request, never a 500
        return _answer(400, "rejected", "bad Content-Length")
    if length > MAX_BODY_BYTES:
        return _answer(413, "rejected", "body too large")
    body = request.body
    if len(body) > MAX_BODY_BYTES:
        return _answer(413, "rejected", "body too large")
    try:
        event = get_gateway().parse_webhook(payload=body, signature_header=request.headers.get("Stripe-Signature"))
    except InvalidWebhook as exc:
        logger.warning("webhook rejected: %s", exc.message)
        return _answer(400, "rejected", exc.message)
    except PaymentError as exc:  # not configured
        logger.error("webhook cannot be verified: %s", exc)
        return _answer(500, "failed", "webhook secret not configured")
    problem = _implausible(event)
    if problem:
        logger.warning("webhook rejected: %s", problem)
        return _answer(400, "rejected", problem)
    return handle_event(event)


def _implausible(event):
    """Why a signed event cannot be Stripe's, or "". Stripe's ids and types are short strings; anything
    else would fail to be stored (a database error, so a 500 and endless retries) or reach Stripe's API
    as a path segment."""
    if len(event.id) > MAX_ID_LENGTH or len(event.type) > MAX_ID_LENGTH:
        return "event id or type too long"
    if event.object_id is not None and (not isinstance(event.object_id, str) or len(event.object_id) > MAX_ID_LENGTH
                                        or "/" in event.object_id):
        return "event object id is not a Stripe id"
    return ""


def handle_event(event, *, gateway=None):
    """Store (once) and process one verified event; returns the HTTP answer.

    Stripe is asked first, outside any database transaction (`prepare`); the writes then happen in one
    transaction holding the event row's lock, so concurrent deliveries of the same event serialise and
    only the first processes it.
    """
    gateway = gateway or get_gateway()
    row = _store(event)
    if row.outcome in (StripeEvent.PROCESSED, StripeEvent.IGNORED):
        StripeEvent.objects.filter(pk=row.pk).update(deliveries=F("deliveries") + 1)
        return _answer(200, "duplicate", row.outcome)
    try:
        apply = prepare(event, gateway=gateway)
    except Ignored as exc:
        apply = _ignore(str(exc))
    except ObjectNotFound as exc:
        # Stripe retries a non-2xx answer for days; an object it does not have will never appear.
        apply = _ignore(f"Stripe does not have this event's object: {exc}")
    except Exception as exc:  # noqa: BLE001 — Stripe unreachable etc.: answer 5xx so Stripe retries
        logger.warning("webhook %s (%s): could not fetch from Stripe: %s", event.id, event.type, exc)
        StripeEvent.objects.filter(pk=row.pk).update(
            outcome=StripeEvent.FAILED, detail=f"{type(exc).__name__}: {exc}"[:2000], deliveries=F("deliveries") + 1
        )
        return _answer(500, "failed", "processing failed; Stripe will retry")
    with transaction.atomic():
        row = StripeEvent.objects.select_for_update().get(pk=row.pk)
        StripeEvent.objects.filter(pk=row.pk).update(deliveries=F("deliveries") + 1)
        if row.outcome in (StripeEvent.PROCESSED, StripeEvent.IGNORED):
            return _answer(200, "duplicate", row.outcome)
        try:
            with transaction.atomic():
                detail = apply()
            outcome = StripeEvent.PROCESSED
        except Ignored as exc:
            outcome, detail = StripeEvent.IGNORED, str(exc)
        except Exception as exc:  # noqa: BLE001 — any failure: record it, answer 5xx, Stripe retries
            logger.exception("webhook %s (%s) failed", event.id, event.type)
            StripeEvent.objects.filter(pk=row.pk).update(
                outcome=StripeEvent.FAILED, detail=f"{type(exc).__name__}: {exc}"[:2000]
            )
            return _answer(500, "failed", "processing failed; Stripe will retry")
        StripeEvent.objects.filter(pk=row.pk).update(outcome=outcome, detail=detail or "", processed_at=timezone.now())
    return _answer(200, outcome, detail or "")


def _ignore(reason):
    def apply():
        raise Ignored(reason)

    return apply


def _store(event):
    try:
        with transaction.atomic():
            row, _ = StripeEvent.objects.get_or_create(
                event_id=event.id,
                defaults={"type": event.type, "object_id": event.object_id or "", "payload": event.payload,
                          "livemode": bool(event.payload.get("livemode")), "stripe_created": event.created},
            )
    except IntegrityError:  # a concurrent delivery stored it first
        row = StripeEvent.objects.get(event_id=event.id)
    return row


def _answer(status, outcome, detail):
    return JsonResponse({"outcome": outcome, "detail": detail}, status=status)


# --- dispatch: each handler asks Stripe, then returns the writes to run in the transaction ----------


def prepare(event, *, gateway):
    handler = HANDLERS.get(event.type)
    if handler is None:
        raise Ignored(f"event type {event.type} is not handled")
    if not event.object_id:
        raise Ignored("event carries no object id")
    return handler(event, gateway)


def _our_order_for_intent(intent):
    order = services.order_for_intent(intent)
    if order is None:
        raise Ignored(f"payment intent {intent.id} is not ours")
    return order


def on_intent_succeeded(event, gateway):
    intent = gateway.retrieve_intent(event.object_id)
    order = _our_order_for_intent(intent)
    if intent.status != "succeeded":
        raise Ignored(f"intent {intent.id} is {intent.status} now")
    fee = services.read_fee(intent=intent, gateway=gateway)

    def apply():
        result = services.payment_captured(order=order, intent=intent, gateway=gateway, fee=fee)
        return f"order {order.number}: {result.outcome}"

    return apply


def on_intent_failed(event, gateway):
    intent = gateway.retrieve_intent(event.object_id)
    order = _our_order_for_intent(intent)
    if intent.status == "succeeded":  # events arrive out of order: the intent has succeeded since
        return on_intent_succeeded(event, gateway)

    def apply():
        services.payment_failed(intent=intent)
        return f"order {order.number}: attempt failed, order stays payable"

    return apply


def _capture_first(order, intent, gateway):
    """Events arrive in any order: a refund or dispute event can come before `payment_intent.succeeded`
    (and before the page's confirmation). The capture Stripe already knows of is applied first, in the
    same transaction (idempotent), so the refund or dispute is matched to a booked charge or to an excess
    payment, never lost and never applied to the wrong charge."""
    if intent.status != "succeeded" or services.Source.objects.filter(reference=intent.id).exists() or \
            services.ExcessPayment.objects.filter(intent_id=intent.id).exists():
        return lambda: None
    fee = services.read_fee(intent=intent, gateway=gateway)

    def apply():
        services.payment_captured(order=order, intent=intent, gateway=gateway, fee=fee)

    return apply


def on_charge_refunded(event, gateway):
    # amount_refunded is cumulative and one event may cover several refunds: record each refund of the
    # charge by its own id (recording is idempotent), never the event's amount.
    charge = gateway.retrieve_charge(event.object_id)
    if not charge.payment_intent_id:
        raise Ignored(f"charge {charge.id} has no payment intent")
    intent = gateway.retrieve_intent(charge.payment_intent_id)
    order = _our_order_for_intent(intent)
    capture = _capture_first(order, intent, gateway)

    def apply():
        capture()
        recorded = [f"{refund.id}:{services.record_refund(order=order, refund=refund).status}"
                    for refund in charge.refunds]
        return f"order {order.number}: refunds {', '.join(recorded) or 'none'}"

    return apply


def on_refund(event, gateway):
    """refund.created / refund.updated / refund.failed / charge.refund.updated: one refund's new state."""
    refund = gateway.retrieve_refund(event.object_id)
    if not refund.payment_intent_id:
        raise Ignored(f"refund {refund.id} has no payment intent")
    intent = gateway.retrieve_intent(refund.payment_intent_id)
    order = _our_order_for_intent(intent)
    capture = _capture_first(order, intent, gateway)

    def apply():
        capture()
        row = services.record_refund(order=order, refund=refund)
        return f"order {order.number}: refund {refund.id} {getattr(row, 'status', 'not recorded')}"

    return apply


def on_dispute(event, gateway):
    dispute = gateway.retrieve_dispute(event.object_id)
    if not dispute.payment_intent_id:
        raise Ignored(f"dispute {dispute.id} has no payment intent")
    intent = gateway.retrieve_intent(dispute.payment_intent_id)
    order = _our_order_for_intent(intent)
    capture = _capture_first(order, intent, gateway)
    charge = None
    if dispute.currency != intent.currency and dispute.charge_id:
        charge = gateway.retrieve_charge(dispute.charge_id)  # its balance transaction converts the amount

    def apply():
        capture()
        row = services.apply_dispute(order=order, dispute=dispute, charge=charge)
        return f"order {order.number}: dispute {dispute.id} {row.status}{'' if row.booked else ' (excess payment)'}"

    return apply


HANDLERS = {
    "payment_intent.succeeded": on_intent_succeeded,
    "payment_intent.payment_failed": on_intent_failed,
    "charge.refunded": on_charge_refunded,
    "charge.refund.updated": on_refund,
    "refund.created": on_refund,
    "refund.updated": on_refund,
    "refund.failed": on_refund,
    "charge.dispute.created": on_dispute,
    "charge.dispute.updated": on_dispute,
    "charge.dispute.closed": on_dispute,
    "charge.dispute.funds_withdrawn": on_dispute,
    "charge.dispute.funds_reinstated": on_dispute,
}
