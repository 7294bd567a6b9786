"""Stripe webhooks (DESIGN "Stripe boundary", "Background work"), in the manner of dj-stripe.

The endpoint verifies the signature (Stripe's tolerance), stores each event once by event id with its
raw payload, commits and answers 2xx at once; a worker then processes it (`process_event`, the task
`shop.payments.tasks.process_webhook_event`). Stripe's guidance: acknowledge before any complex logic, so
a slow Stripe API, a slow ledger or a slow mail server never holds Stripe's request. An event whose
processing fails is retried with backoff (SHOP_WEBHOOK_RETRY_SECONDS doubling, at most
SHOP_WEBHOOK_MAX_ATTEMPTS attempts), then left failed with its traceback for staff to process again; the
periodic sweep re-enqueues events a lost message left unprocessed. A duplicate delivery enqueues nothing.

Without a broker (the demo default) the event is processed inside the request as before: 2xx when it was
processed or deliberately ignored (an unknown type, an intent that is not ours, an object Stripe does not
have: the reason is kept on the event row), 5xx when processing failed, so that Stripe delivers it again.

Objects are re-retrieved from Stripe rather than trusted from the payload: the payload may be stale
(events arrive out of order) or, in the worst case, not from Stripe at all despite a leaked secret.
"""

import logging
import traceback
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from oscar.apps.payment.exceptions import PaymentError

from shop.jobs.queue import backoff_seconds, broker_configured, enqueue
from shop.payments import services
from shop.payments.gateway import InvalidWebhook, ObjectNotFound, WebhookEvent, get_gateway
from shop.payments.models import StripeEvent

logger = logging.getLogger("shop.payments.webhooks")

# Stripe's own events are a few KiB; anything much larger is not from Stripe.
MAX_BODY_BYTES = 256 * 1024
MAX_ID_LENGTH = 255  # StripeEvent's event_id, type and object_id columns
DONE = (StripeEvent.PROCESSED, StripeEvent.IGNORED)


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
    if broker_configured():
        return receive_event(event)
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


def receive_event(event):
    """Store a verified event once and enqueue its processing on commit; answer 2xx at once. A duplicate
    delivery only counts the delivery (its first is queued, processed, or failed and left to staff)."""
    from shop.payments import tasks

    row, created = _store(event)
    if not created:
        StripeEvent.objects.filter(pk=row.pk).update(deliveries=F("deliveries") + 1)
        return _answer(200, "duplicate", row.outcome)
    enqueue(tasks.process_webhook_event, row.pk)
    return _answer(200, StripeEvent.RECEIVED, "queued")


def handle_event(event, *, gateway=None):
    """Store (once) and process one verified event inside the request (no broker); returns the answer."""
    row, created = _store(event)
    if not created:
        StripeEvent.objects.filter(pk=row.pk).update(deliveries=F("deliveries") + 1)
        if row.outcome in DONE:
            return _answer(200, "duplicate", row.outcome)
    outcome, detail = process_event(pk=row.pk, gateway=gateway)
    if outcome == StripeEvent.FAILED:
        return _answer(500, "failed", "processing failed; Stripe will retry")
    return _answer(200, outcome, detail)


def process_event(*, pk, gateway=None, by_staff=False):
    """Process the stored event `pk` once: returns (outcome, detail), outcome "duplicate" when it was
    processed or ignored already.

    Stripe is asked first, outside any database transaction (`prepare`); the writes then happen in one
    transaction holding the event row's lock, so concurrent workers (a retry and a sweep, two deliveries)
    serialise and only the first applies it. A failure is recorded (attempts, traceback, the next attempt's
    time, or none after SHOP_WEBHOOK_MAX_ATTEMPTS: failed for good) and returned as "failed".
    """
    row = StripeEvent.objects.filter(pk=pk).first()
    if row is None:  # a message for a row that was never committed or is gone: nothing to do
        return "missing", f"no stored event {pk}"
    if row.outcome in DONE:
        return "duplicate", row.outcome
    event = event_of(row)
    try:
        apply = prepare(event, gateway=gateway or get_gateway())
    except Ignored as exc:
        apply = _ignore(str(exc))
    except ObjectNotFound as exc:
        # Stripe retries a non-2xx answer for days; an object it does not have will never appear.
        apply = _ignore(f"Stripe does not have this event's object: {exc}")
    except Exception as exc:  # noqa: BLE001 — Stripe unreachable etc.: recorded, tried again
        logger.warning("webhook %s (%s): could not fetch from Stripe: %s", event.id, event.type, exc)
        _record_failure(row.pk, exc, by_staff=by_staff)
        return StripeEvent.FAILED, f"{type(exc).__name__}: {exc}"
    with transaction.atomic():
        row = StripeEvent.objects.select_for_update().get(pk=row.pk)
        if row.outcome in DONE:
            return "duplicate", row.outcome
        try:
            with transaction.atomic():
                detail = apply()
            outcome = StripeEvent.PROCESSED
        except Ignored as exc:
            outcome, detail = StripeEvent.IGNORED, str(exc)
        except Exception as exc:  # noqa: BLE001 — any failure: recorded, tried again
            logger.exception("webhook %s (%s) failed", event.id, event.type)
            _record_failure(row.pk, exc, by_staff=by_staff)
            return StripeEvent.FAILED, f"{type(exc).__name__}: {exc}"
        StripeEvent.objects.filter(pk=row.pk).update(
            outcome=outcome, detail=detail or "", processed_at=timezone.now(), next_attempt_at=None,
            attempts=F("attempts") + 1)
    return outcome, detail or ""


def _record_failure(pk, exc, *, by_staff):
    """Count the failed attempt and schedule the next: none once the attempts are spent, none for a staff
    retry that failed (left for staff, never retried behind their back), and none without a broker (Stripe
    delivers the event again, since it was answered 5xx)."""
    row = StripeEvent.objects.get(pk=pk)
    attempts = row.attempts + 1
    retry = None
    if not by_staff and broker_configured() and attempts < settings.SHOP_WEBHOOK_MAX_ATTEMPTS:
        retry = timezone.now() + timedelta(seconds=backoff_seconds(
            attempts, base=settings.SHOP_WEBHOOK_RETRY_SECONDS, cap=settings.SHOP_WEBHOOK_RETRY_CAP_SECONDS))
    StripeEvent.objects.filter(pk=pk).update(
        outcome=StripeEvent.FAILED, detail=f"{type(exc).__name__}: {exc}"[:2000], attempts=attempts,
        error="".join(traceback.format_exception(exc))[-20000:], next_attempt_at=retry)


def process_again(*, pk):
    """Staff's "process again" of a failed event: one attempt now, in the request (returns its outcome)."""
    return process_event(pk=pk, by_staff=True)


def left_behind(*, older_than):
    """Events a worker should have processed by now: received and never tried, or failed with a retry
    that is long overdue (its message lost between the commit and the broker, or with a dead worker)."""
    cutoff = timezone.now() - timedelta(seconds=older_than)
    return StripeEvent.objects.filter(
        Q(outcome=StripeEvent.RECEIVED, received_at__lt=cutoff)
        | Q(outcome=StripeEvent.FAILED, next_attempt_at__lt=cutoff)
    ).order_by("received_at").values_list("pk", flat=True)


def event_of(row):
    """The stored event as the handlers read it (its signature was checked when it was received)."""
    obj = ((row.payload.get("data") or {}).get("object") or {}) if isinstance(row.payload, dict) else {}
    return WebhookEvent(id=row.event_id, type=row.type, created=row.stripe_created or 0,
                        object_type=obj.get("object", "") if isinstance(obj, dict) else "",
                        object_id=row.object_id or None, payload=row.payload)


def _ignore(reason):
    def apply():
        raise Ignored(reason)

    return apply


def _store(event):
    """The event's row and whether this delivery stored it (a first delivery counts as one)."""
    try:
        with transaction.atomic():
            row, created = StripeEvent.objects.get_or_create(
                event_id=event.id,
                defaults={"type": event.type, "object_id": event.object_id or "", "payload": event.payload,
                          "livemode": bool(event.payload.get("livemode")), "stripe_created": event.created,
                          "deliveries": 1},
            )
    except IntegrityError:  # a concurrent delivery stored it first
        row, created = StripeEvent.objects.get(event_id=event.id), False
    return row, created


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
