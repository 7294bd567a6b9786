"""What every payment service shares: the statuses, the order lock, the figures of an order's money."""

import functools
import logging
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum
from django.utils import translation
from django.utils.translation import gettext as _
from oscar.core.loading import get_class, get_model

from fundraising.models import PAID_ORDER_STATUSES as PAID_STATUSES  # noqa: F401 — shared by the services
from fundraising.money import quantize
from fundraising.services.ledger import lock_order  # noqa: F401 — lock order: the order row, then accounts by id
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


class OrderNotPayable(Exception):
    """The order cannot be paid now (already paid, cancelled, or not ours). `str()` is fan-readable."""


class PaymentInProgress(OrderNotPayable):
    """Another request is paying this order right now (or Stripe is still processing a payment)."""


class TooManyAttempts(OrderNotPayable):
    """Too many failed payment attempts for this order or from this address in the last hour."""


class RefundRefused(ValueError):
    """A refund request that must not reach Stripe (more than what is left, nothing to refund)."""


def source_type(simulated=False):
    if simulated:
        code, name = "simulated", "Simulated (never sent to Stripe)"
    else:
        code, name = "stripe", "Stripe"
    row, _created = SourceType.objects.get_or_create(code=code, defaults={"name": name})
    return row


def event_type(code, name):
    row, _created = PaymentEventType.objects.get_or_create(code=code, defaults={"name": name})
    return row


def in_shop_language(func):
    """Run a service in the shop's language (LANGUAGE_CODE): the notes and reasons it stores are read by staff
    later, whatever the language of the fan whose request happened to trigger it."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with translation.override(settings.LANGUAGE_CODE):
            return func(*args, **kwargs)

    return wrapper


def note(order, message, *, once_for=None):
    """An order note for staff (and a warning in the log). With `once_for`, only if no note mentions it yet:
    the reconciler and Stripe's retries call the same path again and again."""
    if once_for and OrderNote.objects.filter(order=order, message__contains=once_for).exists():
        return
    OrderNote.objects.create(order=order, note_type="System", message=message)
    logger.warning("order %s: %s", order.number, message)


def captured_amount(order):
    # Quantized: SQLite's SUM drops the decimal places (30 for 30.00), and these figures reach staff.
    total = Source.objects.filter(order=order).aggregate(total=Sum("amount_debited"))["total"] or Decimal("0")
    return quantize(total, order.currency)


def refunded_or_reserved(order, *, exclude_pk=None):
    """Money refunded or being refunded: requested (reserved), pending and succeeded refunds."""
    qs = StripeRefund.objects.filter(order=order).exclude(status__in=StripeRefund.RELEASED)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return quantize(qs.aggregate(total=Sum("amount"))["total"] or Decimal("0"), order.currency)


def refunded_total(order, *, exclude_pk=None):
    """Money Stripe has refunded (succeeded refunds of the booked charge)."""
    qs = StripeRefund.objects.filter(order=order, status=StripeRefund.SUCCEEDED)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return quantize(qs.aggregate(total=Sum("amount"))["total"] or Decimal("0"), order.currency)


def refunded_line_quantities(order):
    """{order line id (str): quantity refunded or being refunded}, from the refunds that name lines."""
    done = {}
    for lines in StripeRefund.objects.filter(order=order).exclude(status__in=StripeRefund.RELEASED).values_list(
        "lines", flat=True
    ):
        for pk, qty in (lines or {}).items():
            done[pk] = done.get(pk, 0) + int(qty)
    return done


def booked_attempt(order):
    return PaymentAttempt.objects.filter(order=order, booked=True).first()


def order_for_intent(intent):
    """The order an intent belongs to, or None when it is not ours.

    Ours: an attempt of ours made it; or its metadata (`order_number`, `attempt`) names an attempt of ours
    whose create answer was lost (no intent id recorded), which is filled in then. Metadata alone is not
    enough: another integration on the same Stripe account may use the same keys."""
    attempt = PaymentAttempt.objects.select_related("order").filter(intent_id=intent.id).first()
    if attempt is not None:
        return attempt.order
    metadata = intent.metadata or {}
    number, wanted = str(metadata.get("order_number") or ""), str(metadata.get("attempt") or "")
    if not number or not wanted.isdigit():
        return None
    lost = PaymentAttempt.objects.select_related("order").filter(
        order__number=number, number=int(wanted), intent_id__isnull=True).first()
    if lost is None:
        return None
    PaymentAttempt.objects.filter(pk=lost.pk, intent_id__isnull=True).update(intent_id=intent.id)
    return lost.order


def unavailable_message():
    return _("Card payments are not available right now, so no payment was taken. Please try again later.")


def unreachable_message():
    return _("We could not reach our payment provider, so no payment was taken. Please try again in a moment.")
