"""Refunds of the booked charge and their lifecycle at Stripe (DESIGN step 6).

A refund is reserved (REQUESTED) under the order lock before Stripe is asked, so concurrent requests never
refund more than was captured; Stripe then reports it *pending* (still reserved, nothing reversed),
*succeeded* (the donation reversal posted once, by refund id), *failed* or *canceled* (reservation
released; after a success the reversal is restored once). Whichever of the API answer, a webhook
(`charge.refunded`, `charge.refund.updated`, `refund.created/updated/failed`) or the reconciler learns a
state first applies it; the others find it applied. Refunds of an excess payment never come here.
"""

import uuid
from datetime import timedelta
from decimal import Decimal

from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from oscar.apps.payment.exceptions import PaymentError

from fundraising import services as fundraising
from fundraising.estimates import order_donation_detail
from fundraising.money import quantize
from shop.jobs import outbox
from shop.jobs.models import OutgoingEmail
from shop.payments.gateway import Refund, StripeUnreachable, get_gateway
from shop.payments.models import ExcessPayment, StripeRefund
from shop.payments.services.capture import apply_excess_refund
from shop.payments.services.common import (
    PAID, PAID_STATUSES, REFUNDED, PaymentEvent, PaymentEventQuantity, RefundRefused, Source, booked_attempt,
    captured_amount, event_type, in_shop_language, lock_order, note, refunded_line_quantities,
    refunded_or_reserved, refunded_total,
)

STATUS_OF = {"pending": StripeRefund.PENDING, "requires_action": StripeRefund.PENDING,
             "succeeded": StripeRefund.SUCCEEDED, "failed": StripeRefund.FAILED, "canceled": StripeRefund.CANCELED}


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
    """Refund `amount` of a paid order's booked charge through Stripe and record what Stripe says.

    The amount is reserved first, under the order lock, against what was captured minus what is refunded
    or being refunded; then Stripe is asked (idempotency key `refund:<order>:<request id>`: a form posted
    twice refunds once, and a retry after a lost answer finds the same refund); then the refund's state is
    applied (`record_refund`). Raises RefundRefused (nothing written), PaymentError when Stripe refused
    (the reservation is released) or StripeUnreachable (the reservation stays REQUESTED: posting the same
    form again, or reconcile_payments, finds out what Stripe did).
    """
    gateway = gateway or get_gateway()
    request_id = request_id or uuid.uuid4().hex
    line_quantities = {line: qty for line, qty in (line_quantities or {}).items() if qty}
    with transaction.atomic():
        order = lock_order(order)
        existing = StripeRefund.objects.select_for_update().filter(request_id=request_id).first()
        if existing is not None:
            if existing.order_id != order.pk:
                raise RefundRefused(_("This refund request belongs to another order."))
            if existing.status not in (*StripeRefund.RELEASED, StripeRefund.REQUESTED):
                return existing  # the same form posted twice
        if order.status not in PAID_STATUSES:
            raise RefundRefused(_("Order %(number)s has not been paid.") % {"number": order.number})
        if amount is None or amount <= 0:
            raise RefundRefused(_("Enter an amount greater than zero."))
        captured = captured_amount(order)
        left = captured - refunded_or_reserved(order, exclude_pk=existing.pk if existing else None)
        if amount > left:
            raise RefundRefused(_("Cannot refund %(amount)s %(currency)s: only %(left)s %(currency)s of the "
                                  "%(captured)s captured is left to refund.")
                                % {"amount": amount, "currency": order.currency, "left": left, "captured": captured})
        already = refunded_line_quantities(order)
        if existing is not None:
            for pk, qty in (existing.lines or {}).items():
                if existing.status == StripeRefund.REQUESTED:
                    already[pk] = already.get(pk, 0) - int(qty)
        for line, qty in line_quantities.items():
            done = already.get(str(line.pk), 0)
            if done + qty > line.quantity:
                raise RefundRefused(_("Cannot refund %(q)s × %(title)s: %(done)s of the %(n)s bought already "
                                      "refunded.") % {"q": qty, "title": line.title, "done": done, "n": line.quantity})
        booked = booked_attempt(order)
        if booked is None:
            raise RefundRefused(_("Order %(number)s was not paid through Stripe.") % {"number": order.number})
        fields = dict(
            order=order, request_id=request_id, amount=amount, currency=order.currency,
            lines={str(line.pk): qty for line, qty in line_quantities.items()}, reason=reason,
            requested_by=user if user is not None and user.is_authenticated else None,
        )
        if existing is not None:
            # The same form posted again (request_id is unique): reserve on the same row, so the retry reuses
            # the request's idempotency key and Stripe refunds at most once.
            reservation = existing
            for name, value in fields.items():
                setattr(reservation, name, value)
            reservation.status, reservation.error = StripeRefund.REQUESTED, ""
            reservation.save()
        else:
            reservation = StripeRefund.objects.create(**fields)
    try:
        refund = _ask_stripe(reservation=reservation, intent_id=booked.intent_id, gateway=gateway)
    except StripeUnreachable as exc:
        StripeRefund.objects.filter(pk=reservation.pk).update(error=str(exc)[:2000])
        raise
    except PaymentError as exc:
        StripeRefund.objects.filter(pk=reservation.pk).update(status=StripeRefund.FAILED, error=str(exc)[:2000])
        raise
    return record_refund(order=order, refund=refund)


def _ask_stripe(*, reservation, intent_id, gateway):
    metadata = {"order_number": reservation.order.number, "request_id": reservation.request_id}
    if reservation.lines:
        metadata["lines"] = ",".join(f"{pk}:{qty}" for pk, qty in reservation.lines.items())
    return gateway.create_refund(
        payment_intent_id=intent_id, amount=reservation.amount, currency=reservation.currency,
        idempotency_key=f"refund:{reservation.order.number}:{reservation.request_id}", metadata=metadata,
    )


def _parse_lines(value):
    lines = {}
    for part in (value or "").split(","):
        if ":" in part:
            pk, qty = part.split(":", 1)
            if pk.strip().isdigit() and qty.strip().isdigit():
                lines[pk.strip()] = int(qty)
    return lines


@in_shop_language
def record_refund(*, order, refund: Refund):
    """Apply Stripe's state of one refund, once per transition, whichever caller learns it first.

    A refund of an excess payment goes to that payment (never the sale). For the booked charge: pending
    keeps the amount reserved; succeeded records it once (a "Refunded" PaymentEvent, the Source's refunded
    amount, Refunded status when nothing is left, the pro-rata donation reversal, by line when it names
    lines); failed or canceled releases the reservation and, after a success, restores the reversal once.
    A refund of another charge, or beyond what was captured, is never recorded: an order note says so.
    Returns the StripeRefund (or the ExcessPayment)."""
    excess = ExcessPayment.objects.filter(order=order).filter(
        charge_id__in=[c for c in (refund.charge_id, refund.payment_intent_id) if c]).first() or \
        ExcessPayment.objects.filter(order=order, intent_id=refund.payment_intent_id or "-").first()
    if excess is not None:
        if excess.refund_id and refund.id != excess.refund_id and refund.status in ("failed", "canceled"):
            # An earlier try that failed, already counted (`charge.refunded` lists every refund of the
            # charge): it must not undo the try in flight or done. A lost answer is found by its key.
            return excess
        return apply_excess_refund(excess=excess, refund=refund)
    new_status = STATUS_OF.get(refund.status, StripeRefund.PENDING)
    with transaction.atomic():
        order = lock_order(order)
        booked = booked_attempt(order)
        row = StripeRefund.objects.select_for_update().filter(refund_id=refund.id).first()
        if row is None and refund.metadata.get("request_id"):
            row = StripeRefund.objects.select_for_update().filter(
                request_id=refund.metadata["request_id"], order=order
            ).first()
        if booked is None or refund.payment_intent_id != booked.intent_id:
            note(order, _("Stripe refund %(id)s is not of this order's booked payment: not recorded, check it.")
                 % {"id": refund.id}, once_for=refund.id)
            return row
        if row is None:  # made outside the shop (e.g. in Stripe's dashboard)
            row = StripeRefund(order=order, amount=refund.amount, currency=refund.currency,
                               lines=_parse_lines(refund.metadata.get("lines")))
        row.refund_id = refund.id
        if new_status == StripeRefund.SUCCEEDED:
            if row.recorded_at is None:
                _record_success(order=order, row=row, refund=refund)
            return row
        if new_status in StripeRefund.RELEASED:
            if row.recorded_at is not None and row.restored_at is None:
                _restore(order=order, row=row, refund=refund)
            row.status = new_status
            row.error = refund.failure_reason or row.error
            row.save()
            return row
        if row.recorded_at is None:  # pending: still reserved (never back from succeeded)
            row.status = StripeRefund.PENDING
            row.amount = refund.amount
            row.save()
        return row


def _record_success(*, order, row, refund):
    left = captured_amount(order) - refunded_total(order, exclude_pk=row.pk)
    if refund.currency != order.currency or refund.amount > left:
        row.status = StripeRefund.FAILED
        row.error = "refund exceeds what was captured"
        row.save()
        note(order, _("Stripe refund %(id)s of %(amount)s %(currency)s exceeds what is left to refund "
                      "(%(left)s %(order_currency)s): not recorded, check it.")
             % {"id": refund.id, "amount": refund.amount, "currency": refund.currency, "left": left,
                "order_currency": order.currency}, once_for=refund.id)
        return
    row.amount = refund.amount
    row.status = StripeRefund.SUCCEEDED
    row.recorded_at = timezone.now()
    row.save()
    source = Source.objects.filter(order=order, reference=booked_attempt(order).intent_id).first()
    source.refund(refund.amount, reference=refund.id, status="succeeded")
    lines = {int(pk): qty for pk, qty in row.lines.items()}
    event = PaymentEvent.objects.create(order=order, amount=refund.amount, reference=refund.id,
                                        event_type=event_type("refunded", "Refunded"))
    if lines:
        PaymentEventQuantity.objects.bulk_create([
            PaymentEventQuantity(event=event, line_id=pk, quantity=qty) for pk, qty in lines.items()
        ])
    if captured_amount(order) - refunded_total(order) <= 0 and REFUNDED in order.available_statuses():
        order.set_status(REFUNDED)
    fundraising.post_reversal(order=order, key=f"refund:{refund.id}", kind="refund", amount=refund.amount,
                              line_quantities=lines or None)
    outbox.owe(kind=OutgoingEmail.REFUND, object_pk=row.pk, key=f"refund:{row.refund_id}")


def _restore(*, order, row, refund):
    """A refund that failed after it had succeeded: the money is back with the shop."""
    row.restored_at = timezone.now()
    source = Source.objects.filter(order=order, reference=booked_attempt(order).intent_id).first()
    Source.objects.filter(pk=source.pk).update(amount_refunded=source.amount_refunded - row.amount)
    PaymentEvent.objects.create(order=order, amount=row.amount, reference=f"{refund.id}:failed",
                                event_type=event_type("refund-failed", "Refund failed"))
    if order.status == REFUNDED:
        # Oscar's pipeline has no way back from Refunded; the money is the truth (DESIGN step 8).
        order.status = PAID
        order.save(update_fields=["status"])
        order.lines.filter(status=REFUNDED).update(status=PAID)  # Oscar cascaded Refunded to them
        order.status_changes.create(old_status=REFUNDED, new_status=PAID)
    fundraising.post_restoration(order=order, reversal_key=f"refund:{refund.id}")
    note(order, _("Stripe refund %(id)s of %(amount)s %(currency)s failed after it had succeeded (%(reason)s): "
                  "the money is back and the donation it reversed is restored.")
         % {"id": refund.id, "amount": quantize(row.amount, row.currency), "currency": row.currency,
            "reason": refund.failure_reason or _("no reason given")})


def settle_refunds(*, order, gateway=None, stuck_after=timedelta(minutes=10)):
    """Ask Stripe about every refund of the order not yet final (pending, or a reservation older than
    `stuck_after` that Stripe may never have received) and apply what it says. A reservation Stripe has no
    refund for (looked up by its request id) is released. Returns the number of refunds that changed."""
    gateway = gateway or get_gateway()
    changed = 0
    booked = booked_attempt(order)
    open_rows = StripeRefund.objects.filter(order=order, status__in=(StripeRefund.PENDING, StripeRefund.REQUESTED))
    rows = [row for row in open_rows
            if row.status == StripeRefund.PENDING or row.created_at < timezone.now() - stuck_after]
    if not rows or booked is None:
        return 0
    at_stripe = {r.id: r for r in gateway.list_refunds(payment_intent_id=booked.intent_id)}
    by_request = {r.metadata.get("request_id"): r for r in at_stripe.values() if r.metadata.get("request_id")}
    for row in rows:
        refund = at_stripe.get(row.refund_id) or by_request.get(row.request_id)
        before = (row.status, row.recorded_at)
        if refund is None:
            if row.status == StripeRefund.REQUESTED:
                StripeRefund.objects.filter(pk=row.pk, status=StripeRefund.REQUESTED).update(
                    status=StripeRefund.FAILED, error=_("never reached Stripe: reservation released"))
                note(order, _("Refund request %(id)s of %(amount)s %(currency)s never reached Stripe: released.")
                     % {"id": row.request_id, "amount": quantize(row.amount, row.currency), "currency": row.currency})
                changed += 1
            continue
        row = record_refund(order=order, refund=refund)
        if (row.status, row.recorded_at) != before:
            changed += 1
    return changed


def reconcile_booked_refunds(*, order, gateway=None):
    """Record every refund Stripe has of the order's booked charge that we never heard of (a lost webhook).
    Returns how many were recorded or changed."""
    gateway = gateway or get_gateway()
    booked = booked_attempt(order)
    if booked is None:
        return 0
    changed = 0
    for refund in gateway.list_refunds(payment_intent_id=booked.intent_id):
        row = StripeRefund.objects.filter(refund_id=refund.id).first()
        if row is not None and row.status == STATUS_OF.get(refund.status) and (
            row.status != StripeRefund.SUCCEEDED or row.recorded_at is not None
        ):
            continue
        record_refund(order=order, refund=refund)
        changed += 1
    return changed


def send_refund_email(*, refund_pk):
    """Tell the fan their refund went through and what it took back from the donation (owed once, when
    the refund is recorded as succeeded; sent by the outbox's task, which retries when this raises)."""
    row = StripeRefund.objects.select_related("order").get(pk=refund_pk)
    order = row.order
    if not order.email:
        return
    detail = order_donation_detail(order)
    reversal = next((r for r in (detail or {}).get("reversals", [])
                     if r["transaction"].idempotency_key == f"refund:{row.refund_id}"), None)
    ctx = {"order": order, "refund": row, "amount": quantize(row.amount, row.currency),
           "donation_change": reversal["amount"] if reversal else None,
           "donation_now": quantize(detail["total"] - detail["reversed_total"], detail["currency"]) if detail else None}
    send_mail(render_to_string("payments/emails/refund_subject.txt", ctx).strip(),
              render_to_string("payments/emails/refund_body.txt", ctx), None, [order.email])
