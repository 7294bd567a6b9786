"""The one "payment captured" service, and the charges that are not the order's booked payment.

DESIGN "A sale, end to end" steps 4 and 5: whichever of the pay page, the webhook and the reconciler learns
first that an intent succeeded calls `payment_captured`; the first books it (Source, Paid event, status,
donation) and later callers find it done. Any other successful charge for the same order is an *excess
payment*: recorded once by charge, shown to staff, refunded through Stripe once, never part of the sale.
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from oscar.apps.payment.exceptions import PaymentError

from fundraising import services as fundraising
from fundraising.money import Fee
from shop.jobs import outbox
from shop.jobs.queue import enqueue
from shop.jobs.models import OutgoingEmail
from shop.payments.gateway import PaymentIntent, get_gateway
from shop.payments.models import ExcessPayment, PaymentAttempt
from shop.payments.services.common import (
    CANCELLED, PAID, PENDING, PAID_STATUSES, Order, OrderDispatcher, PaymentEvent, PaymentEventQuantity, Source,
    event_type, in_shop_language, lock_order, logger, note, source_type,
)


@dataclass(frozen=True)
class CaptureResult:
    outcome: str  # captured, already_captured, excess
    order: object
    excess: ExcessPayment | None = None

    @property
    def paid(self):
        """True when the order is paid (by this intent or, before it, by another)."""
        return self.order.status in PAID_STATUSES


def read_fee(*, intent, gateway=None) -> Fee:
    """The one fee reader: the fee Stripe took for the intent's charge (from its balance transaction), or
    ``Fee(None, estimated=True)`` when Stripe reports none in the order's currency or cannot be asked (the
    ledger then estimates it from the fee schedule). Called outside any database transaction."""
    if not intent.latest_charge_id:
        return Fee(amount=None, estimated=True)
    try:
        amount = (gateway or get_gateway()).retrieve_charge(intent.latest_charge_id).balance_transaction_fee
    except PaymentError as exc:
        logger.warning("no fee for charge %s (%s); estimating", intent.latest_charge_id, exc)
        amount = None
    return Fee(amount=amount, estimated=amount is None)


@in_shop_language
def payment_captured(*, order, intent: PaymentIntent, gateway=None, fee: Fee | None = None, simulated=False):
    """Book a succeeded `intent` as the order's payment and post its donation, exactly once; or, when it
    cannot be the booked payment, record it as an excess payment and refund it.

    Books it (Oscar Source with the amount debited, a "Paid" PaymentEvent, the status change, the intent's
    attempt marked booked, the ledger sale) in one transaction under the order lock when the order is
    pending and the intent's amount and currency are the order total's. A later call for the same intent
    finds its Source and does nothing. Any other succeeded intent (the order is already paid by another,
    or cancelled, or the amount differs) is an ExcessPayment, refunded through Stripe after the commit
    (key `excess:<charge>:<try>`; `reconcile_payments` retries a refund that could not be made).

    The fee comes from `read_fee` (one Stripe call, before the transaction) unless given as a `Fee`; when
    Stripe reports none the ledger estimates it. Marking the intent's attempt is this service's job, never
    its callers'. `simulated` marks `simulate_sales` payments (their Source type; no confirmation email).
    Raises ValueError for an intent that has not succeeded.
    """
    if intent.status != "succeeded":
        raise ValueError(f"intent {intent.id} has not succeeded (status {intent.status})")
    if fee is None:
        fee = read_fee(intent=intent, gateway=gateway)
    with transaction.atomic():
        order = lock_order(order)
        if Source.objects.filter(order=order, reference=intent.id).exists():
            _mark_attempt(intent.id, PaymentAttempt.SUCCEEDED, booked=True)
            return CaptureResult("already_captured", order)
        excess = ExcessPayment.objects.filter(charge_id=_charge_key(intent)).first()
        if excess is not None:
            _mark_attempt(intent.id, PaymentAttempt.SUCCEEDED)
            return CaptureResult("excess", order, excess)
        reason = _why_not_bookable(order, intent)
        if reason:
            excess = _record_excess(order=order, intent=intent, reason=reason)
            # The refund is a Stripe call that can follow: a worker makes it (inline without a broker).
            from shop.payments import tasks

            enqueue(tasks.refund_excess_payment, excess.pk)
            return CaptureResult("excess", order, excess)
        _book(order=order, intent=intent, simulated=simulated)
        fundraising.post_sale(order=order, fee=fee)
        if not simulated:
            outbox.owe(kind=OutgoingEmail.PAID, object_pk=order.pk, key=f"paid:{order.number}")
    return CaptureResult("captured", order)


def _why_not_bookable(order, intent):
    if intent.currency != order.currency or intent.amount_received != order.total_incl_tax:
        return _("captured %(got)s %(got_currency)s but the order total is %(want)s %(want_currency)s") % {
            "got": intent.amount_received, "got_currency": intent.currency,
            "want": order.total_incl_tax, "want_currency": order.currency}
    if order.status == CANCELLED:
        return _("the order was cancelled")
    if order.status != PENDING:
        return _("the order was already paid by another payment")
    return ""


def _book(*, order, intent, simulated):
    amount = intent.amount_received
    Source.objects.create(
        order=order, source_type=source_type(simulated), currency=order.currency,
        amount_allocated=amount, amount_debited=amount, reference=intent.id,
        label=f"Stripe {intent.payment_method or ''}".strip(),
    )
    event = PaymentEvent.objects.create(order=order, amount=amount, reference=intent.id,
                                        event_type=event_type("paid", "Paid"))
    PaymentEventQuantity.objects.bulk_create(
        [PaymentEventQuantity(event=event, line=line, quantity=line.quantity) for line in order.lines.all()]
    )
    # Oscar's status cascade saves each line separately; one UPDATE first, and set_status then finds the
    # lines already Paid (queries per capture independent of the number of lines).
    order.lines.filter(status=PENDING).update(status=PAID)
    order.set_status(PAID)
    if not _mark_attempt(intent.id, PaymentAttempt.SUCCEEDED, booked=True):
        # A payment no attempt of ours made (simulate_sales): recorded so the booked charge is known.
        number = max(PaymentAttempt.objects.filter(order=order).values_list("number", flat=True), default=0) + 1
        PaymentAttempt.objects.create(order=order, number=number, intent_id=intent.id, amount=amount,
                                      currency=intent.currency, status=PaymentAttempt.SUCCEEDED, booked=True)


def _mark_attempt(intent_id, status, *, booked=False):
    fields = {"status": status, "last_error": ""}
    if booked:
        fields["booked"] = True
    return PaymentAttempt.objects.filter(intent_id=intent_id).update(**fields)


def _charge_key(intent):
    return intent.latest_charge_id or intent.id


def _record_excess(*, order, intent, reason):
    try:
        with transaction.atomic():
            excess = ExcessPayment.objects.create(
                order=order, intent_id=intent.id, charge_id=_charge_key(intent), amount=intent.amount_received,
                currency=intent.currency, reason=reason,
            )
    except IntegrityError:  # recorded by a concurrent caller holding another order's lock: never twice
        return ExcessPayment.objects.get(charge_id=_charge_key(intent))
    _mark_attempt(intent.id, PaymentAttempt.SUCCEEDED)
    note(order, _("Stripe payment %(intent)s of %(amount)s %(currency)s is not this order's payment (%(reason)s): "
                  "recorded as an excess payment and refunded through Stripe.")
         % {"intent": intent.id, "amount": intent.amount_received, "currency": intent.currency, "reason": reason})
    return excess


def refund_excess(*, excess, gateway=None):
    """Refund an excess payment in full through Stripe, once per try (`excess:<charge>:<try>`: a lost
    answer retried with the same key refunds once). Leaves it `recorded` with the error when Stripe cannot
    be asked; reconcile_payments tries again. Returns the ExcessPayment."""
    excess.refresh_from_db()
    if excess.status not in (ExcessPayment.RECORDED, ExcessPayment.REFUND_FAILED):
        return excess
    charge = excess.charge_id if excess.charge_id.startswith(("ch_", "py_")) else None
    try:
        refund = (gateway or get_gateway()).create_refund(
            charge_id=charge, payment_intent_id=None if charge else excess.intent_id,
            amount=excess.amount, currency=excess.currency,
            idempotency_key=f"excess:{excess.charge_id}:{excess.refund_tries}",
            metadata={"order_number": excess.order.number, "excess_payment": excess.charge_id},
        )
    except PaymentError as exc:
        logger.warning("excess payment %s: refund not made: %s", excess.charge_id, exc)
        ExcessPayment.objects.filter(pk=excess.pk).update(error=str(exc)[:2000])
        excess.error = str(exc)
        return excess
    return apply_excess_refund(excess=excess, refund=refund)


def apply_excess_refund(*, excess, refund):
    """What Stripe says of the refund of an excess payment: pending, succeeded, or failed (tried again)."""
    with transaction.atomic():
        excess = ExcessPayment.objects.select_for_update().get(pk=excess.pk)
        if excess.status == ExcessPayment.REFUNDED and refund.status == "succeeded":
            return excess
        known_failure = excess.status == ExcessPayment.REFUND_FAILED and excess.refund_id == refund.id
        excess.refund_id = refund.id
        if refund.status == "succeeded":
            excess.status, excess.refunded_amount, excess.error = ExcessPayment.REFUNDED, refund.amount, ""
        elif excess.status == ExcessPayment.DISPUTED:
            # A disputed charge cannot be refunded: only the refund's success changes it, it is never retried.
            if refund.status in ("failed", "canceled"):
                excess.error = f"refund {refund.id} {refund.status}: {refund.failure_reason or 'no reason given'}"
        elif refund.status in ("failed", "canceled"):
            if not known_failure:  # the next try needs a new idempotency key
                excess.refund_tries += 1
            excess.status, excess.refunded_amount = ExcessPayment.REFUND_FAILED, 0
            excess.error = f"refund {refund.id} {refund.status}: {refund.failure_reason or 'no reason given'}"
        else:
            excess.status = ExcessPayment.REFUND_PENDING
        excess.save()
    return excess


def send_paid_email(*, order_pk):
    """The order confirmation, owed once when the money is in (never for an unpaid order); sent by the
    outbox's task. Raises when it could not be sent (the outbox tries again)."""
    order = Order.objects.get(pk=order_pk)
    ctx = {"order": order, "lines": order.lines.all(), "user": order.user}
    OrderDispatcher(logger=logger).send_order_placed_email_for_user(order, ctx)
