"""What Stripe knows, applied to one order: the repair path for lost webhooks, lost answers and crashes.

`reconcile_payments` calls `reconcile_order` for every order pending payment, every order with a refund
or an excess payment not yet final, and every recently paid order. It never cancels anything a fan may
still be completing (that is `cancel_unpaid_orders`' job); it books a payment Stripe reports succeeded,
settles refunds (pending ones, and reservations that may never have reached Stripe), records refunds of
the booked charge that were never reported to us, and refunds excess payments not yet refunded.
"""

from shop.payments.gateway import get_gateway
from shop.payments.models import ExcessPayment, PaymentAttempt
from shop.payments.services.cancelling import cancel_unpaid_order
from shop.payments.services.capture import apply_excess_refund, payment_captured, refund_excess
from shop.payments.services.common import PAID_STATUSES, PENDING, booked_attempt, refunded_total
from shop.payments.services.refunds import reconcile_booked_refunds, settle_refunds


def reconcile_order(*, order, gateway=None, check_refunds=False):
    """Apply Stripe's state to `order`; returns the list of what changed (e.g. ["captured"], [] when
    nothing did). `check_refunds` also compares the booked charge's refunded amount at Stripe with ours (one
    Stripe call) and records what is missing, and asks again about the refunds of refunded excess payments
    (a refund can fail after it succeeded). Raises PaymentError when Stripe cannot be asked."""
    gateway = gateway or get_gateway()
    changed = []
    if order.status == PENDING:
        changed += _pending(order, gateway)
    excess_payments = ExcessPayment.objects.filter(order=order).exclude(status=ExcessPayment.DISPUTED)
    if not check_refunds:
        excess_payments = excess_payments.exclude(status=ExcessPayment.REFUNDED)
    for excess in excess_payments:
        before = excess.status
        if excess.status in (ExcessPayment.REFUND_PENDING, ExcessPayment.REFUNDED) and excess.refund_id:
            excess = apply_excess_refund(excess=excess, refund=gateway.retrieve_refund(excess.refund_id))
        if excess.status in (ExcessPayment.RECORDED, ExcessPayment.REFUND_FAILED):
            excess = refund_excess(excess=excess, gateway=gateway)
        if excess.status != before:
            changed.append(f"excess {excess.charge_id} {excess.status}")
    order.refresh_from_db(fields=["status"])
    if order.status in PAID_STATUSES:
        if settle_refunds(order=order, gateway=gateway):
            changed.append("refunds settled")
        if check_refunds and _refunds_differ(order, gateway) and reconcile_booked_refunds(order=order, gateway=gateway):
            changed.append("refunds recorded")
    return changed


def _pending(order, gateway):
    attempts = list(PaymentAttempt.objects.filter(order=order).exclude(intent_id=None).order_by("number"))
    intents = [gateway.retrieve_intent(attempt.intent_id) for attempt in attempts]
    for intent in intents:
        if intent.status == "succeeded":
            result = payment_captured(order=order, intent=intent, gateway=gateway)
            if result.outcome == "captured":
                return ["captured"]
            if result.outcome == "excess":
                order.refresh_from_db(fields=["status"])
                if order.status != PENDING:
                    return []
    if intents and all(intent.status == "canceled" for intent in intents):
        if cancel_unpaid_order(order=order, gateway=gateway) == "cancelled":
            return ["cancelled"]
    return []


def _refunds_differ(order, gateway):
    booked = booked_attempt(order)
    if booked is None:
        return False
    intent = gateway.retrieve_intent(booked.intent_id)
    if not intent.latest_charge_id:
        return False
    charge = gateway.retrieve_charge(intent.latest_charge_id)
    succeeded = sum((r.amount for r in charge.refunds if r.status == "succeeded"), start=0)
    return succeeded != refunded_total(order) or any(r.status != "succeeded" for r in charge.refunds)
