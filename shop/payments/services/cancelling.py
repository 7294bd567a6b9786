"""Cancelling an order that was never paid (DESIGN step 7)."""

from django.db import transaction
from django.utils.translation import gettext as _

from shop.payments.gateway import get_gateway
from shop.payments.models import PaymentAttempt
from shop.payments.services.common import CANCELLED, PENDING, OrderNotPayable, lock_order, note
from shop.payments.services.paying import OPEN, apply_intent, claim_lease, release_lease, settle_attempt


def cancel_unpaid_order(*, order, gateway=None, reason=None):
    """Cancel an order that was never paid: under the order's payment lease (so no pay request runs
    meanwhile), cancel every intent that could still charge at Stripe, then release the stock and set
    Cancelled. If Stripe says an intent succeeded after all, the order is captured instead and stays.

    Returns "cancelled", "captured" or "skipped" (not pending, or a payment in progress or processing).
    Raises PaymentError when Stripe cannot be asked (nothing is cancelled then)."""
    gateway = gateway or get_gateway()
    if order.status != PENDING:
        return "skipped"
    try:
        lease = claim_lease(order=order)
    except OrderNotPayable:  # a payment in progress, or no longer pending
        return "skipped"
    try:
        for attempt in PaymentAttempt.objects.filter(order=order, status__in=OPEN).exclude(pk=lease.pk):
            intent = settle_attempt(order=order, attempt=attempt, gateway=gateway)
            if intent is None:
                continue
            if intent.status == "succeeded":
                outcome = apply_intent(order=order, attempt=attempt, intent=intent, gateway=gateway)
                if outcome.status == "succeeded":
                    return "captured"
                continue  # an excess payment (refunded): the order itself is still unpaid
            if intent.status == "processing":
                return "skipped"
            release_lease(attempt, PaymentAttempt.CANCELED, attempt.last_error)
        with transaction.atomic():
            order = lock_order(order)
            if order.status != PENDING:
                return "skipped"
            for line in order.lines.select_related("stockrecord"):
                if line.stockrecord_id and line.num_allocated:
                    line.stockrecord.cancel_allocation(line.num_allocated)
                    line.num_allocated = 0
                    line.save(update_fields=["num_allocated"])
            order.set_status(CANCELLED)
            note(order, reason or _("Cancelled: not paid in time; stock released."))
        return "cancelled"
    finally:
        # The lease row never had an intent: it leaves no trace once the cancellation is over.
        PaymentAttempt.objects.filter(pk=lease.pk, intent_id__isnull=True).delete()
