"""Services that apply what Stripe says to Oscar orders (DESIGN "A sale, end to end").

One function per fact, each idempotent, each called by every path that can learn the fact: the
synchronous confirmation on the payment page, the webhook, `reconcile_payments`, `cancel_unpaid_orders`
and the dashboard refund. Network calls to Stripe happen *outside* database transactions; the writes
that follow happen inside one `transaction.atomic()` that first locks the order row, so two callers
racing on the same order serialise there and the second finds the work done.

Lock order, everywhere: the order row, then (inside fundraising) ledger accounts by id.
"""

import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from oscar.apps.payment.exceptions import PaymentError
from oscar.core.loading import get_class, get_model

from fundraising import services as fundraising
from shop.currency import quantize
from shop.payments.gateway import CardDeclined, PaymentIntent, Refund, get_gateway
from shop.payments.models import PaymentAttempt, StripeRefund

logger = logging.getLogger("shop.payments")

Order = get_model("order", "Order")
OrderNote = get_model("order", "OrderNote")
PaymentEvent = get_model("order", "PaymentEvent")
PaymentEventType = get_model("order", "PaymentEventType")
PaymentEventQuantity = get_model("order", "PaymentEventQuantity")
Source = get_model("payment", "Source")
SourceType = get_model("payment", "SourceType")
OrderDispatcher = get_class("order.utils", "OrderDispatcher")

PENDING = "Pending payment"
PAID = "Paid"
CANCELLED = "Cancelled"
REFUNDED = "Refunded"
# Statuses in which the order's money has been captured (see OSCAR_ORDER_STATUS_PIPELINE).
PAID_STATUSES = tuple(settings.SHOP_PAID_ORDER_STATUSES)


class OrderNotPayable(Exception):
    """The order cannot be paid now (already paid, cancelled, or not ours). `str()` is fan-readable."""


class RefundRefused(ValueError):
    """A refund request that must not reach Stripe (more than what is left, nothing to refund)."""


@dataclass(frozen=True)
class PayOutcome:
    """What the payment page tells the fan: `status` is succeeded, requires_action, declined or error."""

    status: str
    attempt: PaymentAttempt | None = None
    client_secret: str | None = None
    message: str = ""


# --- small helpers ---------------------------------------------------------------------------------


def _source_type(simulated=False):
    if simulated:
        code, name = "simulated", "Simulated (never sent to Stripe)"
    else:
        code, name = "stripe", "Stripe"
    source_type, _ = SourceType.objects.get_or_create(code=code, defaults={"name": name})
    return source_type


def _event_type(code, name):
    event_type, _ = PaymentEventType.objects.get_or_create(code=code, defaults={"name": name})
    return event_type


def _note(order, message):
    OrderNote.objects.create(order=order, note_type="System", message=message)
    logger.warning("order %s: %s", order.number, message)


def _locked(order):
    return Order.objects.select_for_update().get(pk=order.pk)


def captured_amount(order):
    # Quantized: SQLite's SUM drops the decimal places (30 for 30.00), and these figures reach staff.
    total = Source.objects.filter(order=order).aggregate(total=Sum("amount_debited"))["total"] or Decimal("0")
    return quantize(total, order.currency)


def refunded_or_reserved(order, *, exclude_pk=None):
    """Money refunded or being refunded: requested (reserved), pending and succeeded refunds."""
    qs = StripeRefund.objects.filter(order=order).exclude(status=StripeRefund.FAILED)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return quantize(qs.aggregate(total=Sum("amount"))["total"] or Decimal("0"), order.currency)


def refunded_line_quantities(order):
    """{order line id (str): quantity refunded or being refunded}, from the refunds that name lines."""
    done = {}
    for lines in StripeRefund.objects.filter(order=order).exclude(status=StripeRefund.FAILED).values_list(
        "lines", flat=True
    ):
        for pk, qty in (lines or {}).items():
            done[pk] = done.get(pk, 0) + int(qty)
    return done


def order_for_intent(intent):
    """The order an intent belongs to, or None when it is not ours (no attempt of ours made it)."""
    attempt = PaymentAttempt.objects.select_related("order").filter(intent_id=intent.id).first()
    return attempt.order if attempt else None


# --- paying ----------------------------------------------------------------------------------------


def pay_order(*, order, payment_method, gateway=None):
    """Make a new attempt to pay `order` with a PaymentMethod id, on the server (Stripe's "finalize
    payments on the server" flow): create an intent (idempotency key per order and attempt), confirm it.

    Returns a PayOutcome. A decline is an outcome, not an exception: the order stays payable and the
    next call makes a new attempt. Raises OrderNotPayable when the order is paid or cancelled.
    Writes nothing when Stripe cannot be reached before the intent exists; once it exists the attempt
    is recorded, so `reconcile_payments` can learn later what happened to it.
    """
    try:
        gateway = gateway or get_gateway()
    except PaymentError as exc:  # not configured: say so to the fan, never a 500
        logger.error("order %s: card payments unavailable: %s", order.number, exc)
        return PayOutcome("error", message=_unavailable_message())
    order.refresh_from_db(fields=["status"])
    if order.status != PENDING:
        raise OrderNotPayable(_("Order %(number)s cannot be paid: it is %(status)s.")
                              % {"number": order.number, "status": _(order.status)})
    number = (PaymentAttempt.objects.filter(order=order).aggregate(n=Max("number"))["n"] or 0) + 1
    try:
        intent = gateway.create_intent(
            amount=order.total_incl_tax, currency=order.currency, order_number=str(order.number), attempt=number,
        )
    except PaymentError as exc:
        logger.warning("order %s: could not create a payment intent: %s", order.number, exc)
        return PayOutcome("error", message=_unreachable_message())
    attempt = PaymentAttempt.objects.create(
        order=order, number=number, intent_id=intent.id, amount=intent.amount, currency=intent.currency,
    )
    try:
        intent = gateway.confirm_intent(intent.id, payment_method=payment_method)
    except CardDeclined as exc:
        _update_attempt(attempt, PaymentAttempt.FAILED, str(exc))
        return PayOutcome("declined", attempt, message=str(exc))
    except PaymentError as exc:
        # The card may or may not have been charged: the attempt stays on record for reconcile_payments.
        _update_attempt(attempt, PaymentAttempt.ERROR, str(exc))
        return PayOutcome("error", attempt, message=_unreachable_message())
    return apply_intent(order=order, attempt=attempt, intent=intent, gateway=gateway)


def check_attempt(*, order, intent_id, gateway=None):
    """After the browser finished 3D Secure: ask Stripe for the intent again and apply it."""
    try:
        gateway = gateway or get_gateway()
    except PaymentError as exc:
        logger.error("order %s: card payments unavailable: %s", order.number, exc)
        return PayOutcome("error", message=_unavailable_message())
    attempt = PaymentAttempt.objects.filter(order=order, intent_id=intent_id).first()
    if attempt is None:
        raise OrderNotPayable(_("This payment does not belong to order %(number)s.") % {"number": order.number})
    try:
        intent = gateway.retrieve_intent(intent_id)
    except PaymentError as exc:
        logger.warning("order %s: could not retrieve %s: %s", order.number, intent_id, exc)
        return PayOutcome("error", attempt, message=_unreachable_message())
    return apply_intent(order=order, attempt=attempt, intent=intent, gateway=gateway)


def apply_intent(*, order, attempt, intent, gateway=None):
    if intent.status == "succeeded":
        payment_captured(order=order, intent=intent, gateway=gateway)
        _update_attempt(attempt, PaymentAttempt.SUCCEEDED, "")
        return PayOutcome("succeeded", attempt)
    if intent.status in ("requires_action", "requires_source_action"):
        _update_attempt(attempt, PaymentAttempt.REQUIRES_ACTION, "")
        return PayOutcome("requires_action", attempt, client_secret=intent.client_secret)
    message = intent.last_error_message or _("Your card could not be charged. Please try another card.")
    status = PaymentAttempt.CANCELED if intent.status == "canceled" else PaymentAttempt.FAILED
    _update_attempt(attempt, status, message)
    return PayOutcome("declined", attempt, message=message)


def mark_attempt(*, intent_id, status, error=""):
    PaymentAttempt.objects.filter(intent_id=intent_id).exclude(status=PaymentAttempt.SUCCEEDED).update(
        status=status, last_error=error, updated_at=timezone.now()
    )


def _update_attempt(attempt, status, error):
    PaymentAttempt.objects.filter(pk=attempt.pk).update(status=status, last_error=error, updated_at=timezone.now())
    attempt.status, attempt.last_error = status, error


def _unavailable_message():
    return _("Card payments are not available right now, so no payment was taken. Please try again later.")


def _unreachable_message():
    return _("We could not reach our payment provider, so no payment was taken. Please try again in a moment.")


# --- the one "payment captured" service ------------------------------------------------------------


@dataclass(frozen=True)
class CaptureResult:
    outcome: str  # captured, already_captured, mismatch, order_cancelled
    order: object


def payment_captured(*, order, intent: PaymentIntent, gateway=None, fee=None, fee_estimated=None, simulated=False):
    """Mark `order` paid by a succeeded `intent` and post its donation, exactly once.

    Both the synchronous confirmation and the webhook (and reconcile_payments) call this; the first
    marks the order paid (Oscar Source with the amount debited, a "Paid" PaymentEvent, the status
    change) and posts the sale to the ledger in the same transaction; any later call finds a Source
    with this intent's reference and does nothing. An amount or currency that differs from the
    order's total never marks it paid: it leaves an order note for staff. Money captured for a
    cancelled order is noted for staff (to refund), never booked as a sale.

    The fee comes from the charge's balance transaction (one Stripe call, made before the database
    transaction); when the gateway reports none the ledger estimates it from the fee schedule.
    `simulated` marks the payment source of `simulate_sales` orders (never sent to Stripe).
    """
    if intent.status != "succeeded":
        raise ValueError(f"intent {intent.id} has not succeeded (status {intent.status})")
    if fee is None and fee_estimated is None and intent.latest_charge_id:
        try:
            fee = (gateway or get_gateway()).retrieve_charge(intent.latest_charge_id).balance_transaction_fee
        except PaymentError as exc:
            logger.warning("order %s: no fee for charge %s (%s); estimating", order.number,
                           intent.latest_charge_id, exc)
            fee = None
    with transaction.atomic():
        order = _locked(order)
        if Source.objects.filter(order=order, reference=intent.id).exists():
            return CaptureResult("already_captured", order)
        if intent.currency != order.currency or intent.amount_received != order.total_incl_tax:
            if OrderNote.objects.filter(order=order, message__contains=intent.id).exists():
                return CaptureResult("mismatch", order)  # staff were told (reconcile runs this again and again)
            _note(order, _("Stripe payment %(intent)s captured %(got)s %(got_currency)s but the order total is "
                           "%(want)s %(want_currency)s: not marked paid, check and refund.")
                  % {"intent": intent.id, "got": intent.amount_received, "got_currency": intent.currency,
                     "want": order.total_incl_tax, "want_currency": order.currency})
            return CaptureResult("mismatch", order)
        if order.status != PENDING:
            _note(order, _("Stripe payment %(intent)s succeeded while the order is %(status)s: not booked as a "
                           "sale; refund it.") % {"intent": intent.id, "status": order.status})
            return CaptureResult("order_cancelled" if order.status == CANCELLED else "already_captured", order)
        amount = intent.amount_received
        Source.objects.create(
            order=order, source_type=_source_type(simulated), currency=order.currency,
            amount_allocated=amount, amount_debited=amount, reference=intent.id,
            label=f"Stripe {intent.payment_method or ''}".strip(),
        )
        event = PaymentEvent.objects.create(
            order=order, amount=amount, reference=intent.id, event_type=_event_type("paid", "Paid"),
        )
        lines = list(order.lines.all())
        PaymentEventQuantity.objects.bulk_create(
            [PaymentEventQuantity(event=event, line=line, quantity=line.quantity) for line in lines]
        )
        # Oscar's status cascade saves each line separately; one UPDATE first, and set_status then finds
        # the lines already Paid (queries per capture independent of the number of lines).
        order.lines.filter(status=PENDING).update(status=PAID)
        order.set_status(PAID)
        fundraising.post_sale(order=order, fee=fee, fee_estimated=fee is None if fee_estimated is None
                              else fee_estimated)
        if not simulated:
            transaction.on_commit(lambda: send_paid_email(order_pk=order.pk))
    return CaptureResult("captured", order)


def send_paid_email(*, order_pk):
    """The order confirmation, sent once, when the money is in (never for an unpaid order)."""
    order = Order.objects.get(pk=order_pk)
    ctx = {"order": order, "lines": order.lines.all(), "user": order.user}
    try:
        OrderDispatcher(logger=logger).send_order_placed_email_for_user(order, ctx)
    except Exception:  # noqa: BLE001 — a mail outage must not undo a payment that is already committed
        logger.exception("order %s: confirmation email not sent", order.number)


def payment_failed(*, intent: PaymentIntent):
    """A failed intent (decline, failed 3DS): record it on its attempt; the order stays payable."""
    attempt = PaymentAttempt.objects.filter(intent_id=intent.id).first()
    if attempt is None:
        return None
    if attempt.status != PaymentAttempt.SUCCEEDED:
        _update_attempt(attempt, PaymentAttempt.FAILED, intent.last_error_message or "payment failed")
    return attempt


# --- cancelling ------------------------------------------------------------------------------------


def cancel_unpaid_order(*, order, gateway=None):
    """Cancel an order that was never paid: cancel its open intents at Stripe, release its stock
    allocation, set it Cancelled. If Stripe says one of its intents succeeded after all, the order
    is captured instead and stays. Returns "cancelled", "captured" or "skipped" (not pending, or paid
    at Stripe with an amount or currency that does not match: left pending, noted for staff).
    Raises PaymentError when Stripe cannot be reached (nothing is changed then)."""
    gateway = gateway or get_gateway()
    if order.status != PENDING:
        return "skipped"
    # Failed attempts too: a declined intent stays confirmable (with another card) by the browser that
    # holds its client secret, so it is cancelled as well, or captured if that already happened.
    for attempt in PaymentAttempt.objects.filter(order=order).exclude(status=PaymentAttempt.CANCELED):
        intent = gateway.retrieve_intent(attempt.intent_id)
        if intent.status != "succeeded" and intent.status != "canceled":
            intent = gateway.cancel_intent(attempt.intent_id)  # may have succeeded between our two calls
        if intent.status == "succeeded":
            result = payment_captured(order=order, intent=intent, gateway=gateway)
            _update_attempt(attempt, PaymentAttempt.SUCCEEDED, "")
            # A mismatch is not a capture: the order stays pending (with its stock) for staff to check.
            return "captured" if result.outcome in ("captured", "already_captured") else "skipped"
        _update_attempt(attempt, PaymentAttempt.CANCELED, attempt.last_error)
    with transaction.atomic():
        order = _locked(order)
        if order.status != PENDING:
            return "skipped"
        for line in order.lines.select_related("stockrecord"):
            if line.stockrecord_id and line.num_allocated:
                line.stockrecord.cancel_allocation(line.num_allocated)
                line.num_allocated = 0
                line.save(update_fields=["num_allocated"])
        order.set_status(CANCELLED)
        _note(order, _("Cancelled: not paid in time; stock released."))
    return "cancelled"


# --- refunds ---------------------------------------------------------------------------------------


def refund_amount_for_lines(*, order, line_quantities):
    """Money refunded for the given {line: quantity}: each line's paid price pro-rata to quantity."""
    total = Decimal("0")
    for line, quantity in line_quantities.items():
        if quantity < 0 or quantity > line.quantity:
            raise RefundRefused(_("Line %(line)s has %(n)s items; cannot refund %(q)s.")
                                % {"line": line.pk, "n": line.quantity, "q": quantity})
        total += (line.line_price_incl_tax * quantity / line.quantity)
    return quantize(total, order.currency)


def start_refund(*, order, amount, line_quantities=None, request_id=None, user=None, reason="", gateway=None):
    """Refund `amount` of a paid order through Stripe and record it (DESIGN step 5).

    The amount is reserved first, under the order lock, against what was captured minus what is
    refunded or being refunded, so concurrent requests can never refund more than was paid; then Stripe
    is asked (idempotency key `refund:<order>:<request id>`: a form posted twice refunds once); then the
    refund is recorded once by its id (the webhook may have done it already). Raises RefundRefused
    (nothing written) or PaymentError (the reservation is released).
    """
    gateway = gateway or get_gateway()
    request_id = request_id or uuid.uuid4().hex
    line_quantities = {line: qty for line, qty in (line_quantities or {}).items() if qty}
    with transaction.atomic():
        order = _locked(order)
        existing = StripeRefund.objects.select_for_update().filter(request_id=request_id).first()
        if existing is not None:
            if existing.order_id != order.pk:
                raise RefundRefused(_("This refund request belongs to another order."))
            if existing.status != StripeRefund.FAILED:
                return existing  # the same form posted twice
        if order.status not in PAID_STATUSES:
            raise RefundRefused(_("Order %(number)s has not been paid.") % {"number": order.number})
        if amount is None or amount <= 0:
            raise RefundRefused(_("Enter an amount greater than zero."))
        captured = captured_amount(order)
        left = captured - refunded_or_reserved(order)
        if amount > left:
            raise RefundRefused(_("Cannot refund %(amount)s %(currency)s: only %(left)s %(currency)s of the "
                                  "%(captured)s captured is left to refund.")
                                % {"amount": amount, "currency": order.currency, "left": left, "captured": captured})
        already = refunded_line_quantities(order)
        for line, qty in line_quantities.items():
            done = already.get(str(line.pk), 0)
            if done + qty > line.quantity:
                raise RefundRefused(_("Cannot refund %(q)s × %(title)s: %(done)s of the %(n)s bought already "
                                      "refunded.") % {"q": qty, "title": line.title, "done": done, "n": line.quantity})
        source = Source.objects.filter(order=order).exclude(reference="").order_by("pk").first()
        if source is None or not source.reference.startswith("pi_"):
            raise RefundRefused(_("Order %(number)s was not paid through Stripe.") % {"number": order.number})
        fields = dict(
            order=order, request_id=request_id, amount=amount, currency=order.currency,
            lines={str(line.pk): qty for line, qty in line_quantities.items()}, reason=reason,
            requested_by=user if user is not None and user.is_authenticated else None,
        )
        if existing is not None:
            # The same form posted again after Stripe did not take it (request_id is unique): reserve
            # on the same row, so the retry reuses the request's idempotency key.
            reservation = existing
            for name, value in fields.items():
                setattr(reservation, name, value)
            reservation.status, reservation.error = StripeRefund.REQUESTED, ""
            reservation.save()
        else:
            reservation = StripeRefund.objects.create(**fields)
    metadata = {"order_number": order.number, "request_id": request_id}
    if reservation.lines:
        metadata["lines"] = ",".join(f"{pk}:{qty}" for pk, qty in reservation.lines.items())
    try:
        refund = gateway.create_refund(
            payment_intent_id=source.reference, amount=amount, currency=order.currency,
            idempotency_key=f"refund:{order.number}:{request_id}", metadata=metadata,
        )
    except PaymentError as exc:
        StripeRefund.objects.filter(pk=reservation.pk).update(status=StripeRefund.FAILED, error=str(exc))
        raise
    return record_refund(order=order, refund=refund)


def _parse_lines(value):
    lines = {}
    for part in (value or "").split(","):
        if ":" in part:
            pk, qty = part.split(":", 1)
            if pk.strip().isdigit() and qty.strip().isdigit():
                lines[pk.strip()] = int(qty)
    return lines


def record_refund(*, order, refund: Refund):
    """Record a Stripe refund once, by its id, whichever of the API answer and the webhook comes first.

    A succeeded refund adds a "Refunded" PaymentEvent, updates the Source, moves a fully refunded
    order to Refunded and posts the pro-rata donation reversal (by line when the refund names lines).
    A refund still pending is kept as pending and recorded when it succeeds; a failed one releases
    its reservation. Refunds beyond what was captured are never recorded: an order note says so.
    """
    with transaction.atomic():
        order = _locked(order)
        row = StripeRefund.objects.select_for_update().filter(refund_id=refund.id).first()
        if row is None and refund.metadata.get("request_id"):
            row = StripeRefund.objects.select_for_update().filter(
                request_id=refund.metadata["request_id"], order=order
            ).first()
        if row is None:  # made outside the shop (e.g. in Stripe's dashboard)
            row = StripeRefund(order=order, amount=refund.amount, currency=refund.currency,
                               lines=_parse_lines(refund.metadata.get("lines")))
        if row.recorded_at is not None:
            return row
        row.refund_id = refund.id
        if refund.status in ("failed", "canceled"):
            row.status = StripeRefund.FAILED
            row.save()
            return row
        if refund.status != "succeeded":
            row.status = StripeRefund.PENDING
            row.save()
            return row
        if order.status not in PAID_STATUSES:
            row.status = StripeRefund.FAILED
            row.error = "order not paid"
            row.save()
            _note(order, _("Stripe refund %(id)s arrived for an order that is not paid: not recorded.")
                  % {"id": refund.id})
            return row
        row.amount = refund.amount
        left = captured_amount(order) - refunded_or_reserved(order, exclude_pk=row.pk)
        if refund.currency != order.currency or refund.amount > left:
            row.status = StripeRefund.FAILED
            row.error = "refund exceeds what was captured"
            row.save()
            _note(order, _("Stripe refund %(id)s of %(amount)s %(currency)s exceeds what is left to refund "
                           "(%(left)s %(order_currency)s): not recorded, check it.")
                  % {"id": refund.id, "amount": refund.amount, "currency": refund.currency, "left": left,
                     "order_currency": order.currency})
            return row
        row.status = StripeRefund.SUCCEEDED
        row.recorded_at = timezone.now()
        row.save()
        source = Source.objects.filter(order=order).order_by("pk").first()
        source.refund(refund.amount, reference=refund.id, status="succeeded")
        lines = {int(pk): qty for pk, qty in row.lines.items()}
        event = PaymentEvent.objects.create(
            order=order, amount=refund.amount, reference=refund.id, event_type=_event_type("refunded", "Refunded"),
        )
        if lines:
            PaymentEventQuantity.objects.bulk_create([
                PaymentEventQuantity(event=event, line_id=pk, quantity=qty) for pk, qty in lines.items()
            ])
        if captured_amount(order) - refunded_total(order) <= 0 and REFUNDED in order.available_statuses():
            order.set_status(REFUNDED)
        fundraising.post_reversal(order=order, key=f"refund:{refund.id}", kind="refund", amount=refund.amount,
                                  line_quantities=lines or None)
    return row


def refunded_total(order):
    return StripeRefund.objects.filter(order=order, status=StripeRefund.SUCCEEDED).aggregate(
        total=Sum("amount"))["total"] or Decimal("0")


# --- disputes --------------------------------------------------------------------------------------


def dispute_opened(*, order, dispute):
    with transaction.atomic():
        order = _locked(order)
        if not OrderNote.objects.filter(order=order, message__contains=dispute.id).exists():
            _note(order, _("Dispute %(id)s opened for %(amount)s %(currency)s (%(status)s).")
                  % {"id": dispute.id, "amount": dispute.amount, "currency": dispute.currency,
                     "status": dispute.status})


def dispute_closed(*, order, dispute):
    """A lost dispute reverses the donation like a refund of the disputed amount, once per dispute id."""
    with transaction.atomic():
        order = _locked(order)
        if dispute.status != "lost":
            _note(order, _("Dispute %(id)s closed: %(status)s.") % {"id": dispute.id, "status": dispute.status})
            return None
        key = f"dispute:{dispute.id}"
        if PaymentEvent.objects.filter(order=order, reference=dispute.id).exists():
            return None
        PaymentEvent.objects.create(order=order, amount=dispute.amount, reference=dispute.id,
                                    event_type=_event_type("dispute-lost", "Dispute lost"))
        _note(order, _("Dispute %(id)s lost: %(amount)s %(currency)s taken back by the card issuer.")
              % {"id": dispute.id, "amount": dispute.amount, "currency": dispute.currency})
        return fundraising.post_reversal(order=order, key=key, kind="dispute", amount=dispute.amount)


def stripe_settings_ready():
    return bool(settings.STRIPE_SECRET_KEY)
