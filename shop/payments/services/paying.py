"""Paying an order: at most one live PaymentIntent per order (DESIGN "A sale, end to end" step 3).

A pay request first claims the order's *payment lease* under the order's row lock: a new attempt row in
status PAYING, refused while another one is younger than SHOP_PAY_LEASE_SECONDS (a second tab, a double
click, the API racing the page: "a payment is in progress", HTTP 409). Holding it, and outside any
database transaction, it settles every earlier attempt with Stripe (succeeded: booked, and nothing new is
charged; processing: wait; anything still confirmable: cancelled at Stripe first, so a 3D Secure finished
late in another tab can no longer charge), then creates (idempotency key `pi:<order>:<attempt>`) and
confirms the next intent. `cancel_unpaid_order` claims the same lease, so a payment never races a
cancellation. The fan is told "paid" only when the order is Paid.

Card-testing defence: SHOP_PAY_FAILURES_PER_ORDER failed attempts per order and
SHOP_PAY_FAILURES_PER_ADDRESS per client address in the last hour, then TooManyAttempts (429).
"""

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from oscar.apps.payment.exceptions import PaymentError

from shop.payments.gateway import CardDeclined, ObjectNotFound, StripeUnreachable, get_gateway
from shop.payments.models import PaymentAttempt
from shop.payments.services.capture import payment_captured
from shop.payments.services.common import (
    PAID_STATUSES, PENDING, OrderNotPayable, PaymentInProgress, TooManyAttempts, lock_order, logger,
    unavailable_message, unreachable_message,
)

#: Attempts whose intent may still move money at Stripe (settled before a new one is made).
OPEN = (PaymentAttempt.PAYING, PaymentAttempt.CREATED, PaymentAttempt.REQUIRES_ACTION, PaymentAttempt.FAILED,
        PaymentAttempt.ERROR,
        PaymentAttempt.PROCESSING)


@dataclass(frozen=True)
class PayOutcome:
    """What the payment page tells the fan: `status` is succeeded, requires_action, processing, declined
    or error."""

    status: str
    attempt: PaymentAttempt | None = None
    client_secret: str | None = None
    message: str = ""


def client_hash(address):
    """A client address as we keep it for the card-testing limits: a keyed hash, never the address."""
    if not address:
        return ""
    return hashlib.sha256(f"{settings.SECRET_KEY}:pay:{address}".encode()).hexdigest()


def pay_order(*, order, payment_method, gateway=None, client_address=None):
    """Make a new attempt to pay `order` with a PaymentMethod id, confirmed on the server.

    Returns a PayOutcome (a decline is an outcome: the order stays payable). Raises OrderNotPayable when the
    order is paid or cancelled, PaymentInProgress while another pay request holds the lease or Stripe is
    still processing an earlier payment, TooManyAttempts past the card-testing limits; nothing is written
    then. An earlier attempt that Stripe reports succeeded is booked instead of charging again.
    """
    try:
        gateway = gateway or get_gateway()
    except PaymentError as exc:  # not configured: say so to the fan, never a 500
        logger.error("order %s: card payments unavailable: %s", order.number, exc)
        return PayOutcome("error", message=unavailable_message())
    attempt = _claim(order=order, client=client_hash(client_address))
    try:
        settled = _settle_earlier(order=order, current=attempt, gateway=gateway)
        if settled is not None:
            _set(attempt, PaymentAttempt.CANCELED, _("not sent: the order was paid by an earlier attempt"))
            return settled
        return _create_and_confirm(order=order, attempt=attempt, payment_method=payment_method, gateway=gateway)
    finally:
        if attempt.status == PaymentAttempt.PAYING:  # whatever happened, the lease ends with the request
            _set(attempt, PaymentAttempt.ERROR, attempt.last_error or _("the request ended before Stripe answered"))


def check_attempt(*, order, intent_id, gateway=None):
    """After the browser finished 3D Secure: ask Stripe for the intent again and apply it."""
    try:
        gateway = gateway or get_gateway()
    except PaymentError as exc:
        logger.error("order %s: card payments unavailable: %s", order.number, exc)
        return PayOutcome("error", message=unavailable_message())
    attempt = PaymentAttempt.objects.filter(order=order, intent_id=intent_id).first()
    if attempt is None:
        raise OrderNotPayable(_("This payment does not belong to order %(number)s.") % {"number": order.number})
    try:
        intent = gateway.retrieve_intent(intent_id)
    except PaymentError as exc:
        logger.warning("order %s: could not retrieve %s: %s", order.number, intent_id, exc)
        return PayOutcome("error", attempt, message=_unconfirmed_message())
    outcome = apply_intent(order=order, attempt=attempt, intent=intent, gateway=gateway)
    order.refresh_from_db(fields=["status"])
    if outcome.status == "declined" and order.status in PAID_STATUSES:
        # 3D Secure finished in a tab whose intent was cancelled because another tab paid: the order is paid.
        return PayOutcome("succeeded", attempt, message=_("This order is already paid."))
    return outcome


def apply_intent(*, order, attempt, intent, gateway=None):
    """Apply what Stripe says of an attempt's intent and tell the fan."""
    if intent.status == "succeeded":
        result = payment_captured(order=order, intent=intent, gateway=gateway)
        attempt.refresh_from_db()
        if result.outcome != "excess":
            return PayOutcome("succeeded", attempt)
        if result.paid:
            return PayOutcome("succeeded", attempt, message=_(
                "This order was already paid. The second payment will be refunded to your card."))
        return PayOutcome("error", attempt, message=_(
            "Your payment could not be matched to this order, so it will be refunded to your card. "
            "Please contact us."))
    if intent.status in ("requires_action", "requires_source_action"):
        _set(attempt, PaymentAttempt.REQUIRES_ACTION, "")
        return PayOutcome("requires_action", attempt, client_secret=intent.client_secret)
    if intent.status == "processing":
        _set(attempt, PaymentAttempt.PROCESSING, "")
        return PayOutcome("processing", attempt, message=_(
            "Your payment is being processed. This page will show it as paid once your bank confirms it."))
    message = intent.last_error_message or _("Your card could not be charged. Please try another card.")
    _set(attempt, PaymentAttempt.CANCELED if intent.status == "canceled" else PaymentAttempt.FAILED, message)
    return PayOutcome("declined", attempt, message=message)


def payment_failed(*, intent):
    """A failed intent (decline, failed 3DS): record it on its attempt; the order stays payable."""
    attempt = PaymentAttempt.objects.filter(intent_id=intent.id).first()
    if attempt is None:
        return None
    if attempt.status not in (PaymentAttempt.SUCCEEDED, PaymentAttempt.CANCELED, PaymentAttempt.PAYING):
        _set(attempt, PaymentAttempt.FAILED, intent.last_error_message or "payment failed")
    return attempt


# --- the lease -------------------------------------------------------------------------------------


def claim_lease(*, order, client=""):
    """Claim the order's payment lease (see module docstring); returns the new PAYING attempt."""
    return _claim(order=order, client=client, limits=False)


def _claim(*, order, client, limits=True):
    now = timezone.now()
    with transaction.atomic():
        locked = lock_order(order)
        order.status = locked.status
        if locked.status != PENDING:
            if locked.status in PAID_STATUSES:
                raise OrderNotPayable(_("Order %(number)s is already paid.") % {"number": locked.number})
            raise OrderNotPayable(_("Order %(number)s cannot be paid: it is %(status)s.")
                                  % {"number": locked.number, "status": _(locked.status)})
        attempts = PaymentAttempt.objects.filter(order=locked)
        lease_start = now - timedelta(seconds=settings.SHOP_PAY_LEASE_SECONDS)
        if attempts.filter(status=PaymentAttempt.PAYING, created_at__gt=lease_start).exists():
            raise PaymentInProgress(_("A payment for this order is already in progress. Please wait a moment."))
        if limits:
            hour_ago = now - timedelta(hours=1)
            failed = PaymentAttempt.objects.filter(declined=True, updated_at__gt=hour_ago)
            if failed.filter(order=locked).count() >= settings.SHOP_PAY_FAILURES_PER_ORDER or (
                client and failed.filter(client_hash=client).count() >= settings.SHOP_PAY_FAILURES_PER_ADDRESS
            ):
                raise TooManyAttempts(_("Too many declined payments. For your security, please try again in "
                                        "an hour or contact us."))
        number = (attempts.aggregate(n=Max("number"))["n"] or 0) + 1
        return PaymentAttempt.objects.create(
            order=locked, number=number, intent_id=None, amount=locked.total_incl_tax, currency=locked.currency,
            status=PaymentAttempt.PAYING, client_hash=client,
        )


def release_lease(attempt, status, error=""):
    _set(attempt, status, error)


def _set(attempt, status, error):
    fields = {"status": status, "last_error": error, "updated_at": timezone.now()}
    if status == PaymentAttempt.FAILED:
        fields["declined"] = True
    PaymentAttempt.objects.filter(pk=attempt.pk).update(**fields)
    attempt.status, attempt.last_error = status, error


# --- settling earlier attempts ---------------------------------------------------------------------


def settle_attempt(*, order, attempt, gateway):
    """Make sure an earlier attempt can no longer charge: returns its intent as Stripe has it after we are
    done (succeeded ones are booked by the caller), or None when Stripe never had one.
    Raises PaymentError when Stripe cannot be asked (the caller must not charge again then)."""
    try:
        intent = _find_intent(order=order, attempt=attempt, gateway=gateway)
    except ObjectNotFound:  # Stripe has no such intent: nothing of it can charge
        intent = None
    if intent is None:
        _set(attempt, PaymentAttempt.CANCELED, attempt.last_error)
        return None
    if intent.status in ("succeeded", "canceled", "processing"):
        return intent
    try:
        return gateway.cancel_intent(intent.id)
    except PaymentError:
        # The intent moved on meanwhile (3D Secure completed at this moment) or the answer was lost:
        # Stripe's state is the truth.
        intent = gateway.retrieve_intent(intent.id)
        if intent.status in ("succeeded", "canceled", "processing"):
            return intent
        raise


def _find_intent(*, order, attempt, gateway):
    if attempt.intent_id:
        return gateway.retrieve_intent(attempt.intent_id)
    # The create's answer never came back: the same idempotency key and arguments return the intent Stripe
    # made then (or make one now, which is cancelled at once).
    try:
        intent = gateway.create_intent(amount=attempt.amount, currency=attempt.currency,
                                       order_number=str(order.number), attempt=attempt.number,
                                       receipt_email=order.email or None)
    except StripeUnreachable:
        raise
    except PaymentError:  # Stripe refused that create: it made nothing
        return None
    PaymentAttempt.objects.filter(pk=attempt.pk).update(intent_id=intent.id)
    attempt.intent_id = intent.id
    return intent


def _settle_earlier(*, order, current, gateway):
    earlier = PaymentAttempt.objects.filter(order=order, status__in=OPEN).exclude(pk=current.pk).order_by("number")
    for attempt in earlier:
        try:
            intent = settle_attempt(order=order, attempt=attempt, gateway=gateway)
        except PaymentError as exc:
            logger.warning("order %s: attempt %s could not be settled: %s", order.number, attempt.number, exc)
            return PayOutcome("error", current, message=unreachable_message())
        if intent is None:
            continue
        if intent.status == "succeeded":
            outcome = apply_intent(order=order, attempt=attempt, intent=intent, gateway=gateway)
            if outcome.status == "succeeded":
                return outcome
            continue  # not bookable (recorded as excess and refunded): the order still needs paying
        if intent.status == "processing":
            _set(attempt, PaymentAttempt.PROCESSING, "")
            raise PaymentInProgress(_("Your earlier payment for this order is still being processed. Please "
                                      "wait a moment."))
        _set(attempt, PaymentAttempt.CANCELED, attempt.last_error)
    return None


def _create_and_confirm(*, order, attempt, payment_method, gateway):
    try:
        intent = gateway.create_intent(
            amount=attempt.amount, currency=attempt.currency, order_number=str(order.number),
            attempt=attempt.number, receipt_email=order.email or None,
        )
    except StripeUnreachable as exc:
        logger.warning("order %s: create of attempt %s unanswered: %s", order.number, attempt.number, exc)
        _set(attempt, PaymentAttempt.ERROR, str(exc))  # settled (found by its key) before the next attempt
        return PayOutcome("error", attempt, message=unreachable_message())
    except PaymentError as exc:
        logger.warning("order %s: could not create a payment intent: %s", order.number, exc)
        _set(attempt, PaymentAttempt.CANCELED, str(exc))
        return PayOutcome("error", attempt, message=unreachable_message())
    PaymentAttempt.objects.filter(pk=attempt.pk).update(intent_id=intent.id)
    attempt.intent_id = intent.id
    try:
        intent = gateway.confirm_intent(intent.id, payment_method=payment_method)
    except CardDeclined as exc:
        _set(attempt, PaymentAttempt.FAILED, str(exc))
        return PayOutcome("declined", attempt, message=str(exc))
    except PaymentError as exc:
        # The card may or may not have been charged: the next pay request (or reconcile_payments) asks
        # Stripe before anything else, so it is never charged twice.
        _set(attempt, PaymentAttempt.ERROR, str(exc))
        return PayOutcome("error", attempt, message=_unconfirmed_message())
    return apply_intent(order=order, attempt=attempt, intent=intent, gateway=gateway)


def _unconfirmed_message():
    return _("We could not confirm your payment with our payment provider. Please wait a moment and try again: "
             "you will never be charged twice for this order.")


@dataclass(frozen=True)
class PayAnswer:
    """A pay request's answer, the same for the payment page and the API: `status` (succeeded,
    requires_action, processing, declined, error, in_progress, too_many_attempts, not_payable), a
    fan-readable `message` and the HTTP status code that goes with it."""

    status: str
    message: str
    http_status: int
    client_secret: str | None = None
    intent: str | None = None


_HTTP = {"succeeded": 200, "requires_action": 200, "processing": 202, "declined": 402, "error": 503}


def answer_pay_request(*, order, payment_method="", intent_id="", client_address=None):
    """Pay with a PaymentMethod id, or check an attempt again after 3D Secure (`intent_id`)."""
    try:
        if intent_id:
            outcome = check_attempt(order=order, intent_id=intent_id)
        else:
            outcome = pay_order(order=order, payment_method=payment_method, client_address=client_address)
    except PaymentInProgress as exc:
        return PayAnswer("in_progress", str(exc), 409)
    except TooManyAttempts as exc:
        return PayAnswer("too_many_attempts", str(exc), 429)
    except OrderNotPayable as exc:
        return PayAnswer("not_payable", str(exc), 409)
    if outcome.status == "requires_action":
        return PayAnswer("requires_action", "", 200, client_secret=outcome.client_secret,
                         intent=outcome.attempt.intent_id)
    # "error": Stripe could not be reached or is not configured; nothing the client sent was wrong (503).
    return PayAnswer(outcome.status, outcome.message, _HTTP[outcome.status])
