"""What staff read about an order's money (selectors: no writes)."""

from dataclasses import dataclass

from django.db.models import Count

from shop.payments.models import ExcessPayment, PaymentAttempt, StripeDispute, StripeEvent, StripeRefund
from shop.payments.services.common import captured_amount, refunded_or_reserved, refunded_total


@dataclass(frozen=True)
class OrderMoney:
    booked: PaymentAttempt | None
    captured: object
    refunded: object
    reserved: object  # requested or pending refunds, not yet money back
    refundable: object  # what a new refund may still take
    refunds: list
    excess: list
    disputes: list
    attempts: list

    @property
    def state(self):
        """paid, partly_refunded, refund_pending, refunded, or unpaid."""
        if self.booked is None:
            return "unpaid"
        if self.captured > 0 and self.refunded >= self.captured:
            return "refunded"
        if self.reserved > 0:
            return "refund_pending"
        return "partly_refunded" if self.refunded > 0 else "paid"


def order_money(order):
    """The booked payment, refunds by state, excess payments, disputes and attempts of one order."""
    refunded = refunded_total(order)
    captured = captured_amount(order)
    taken = refunded_or_reserved(order)
    return OrderMoney(
        booked=PaymentAttempt.objects.filter(order=order, booked=True).first(),
        captured=captured,
        refunded=refunded,
        reserved=taken - refunded,
        refundable=captured - taken,
        refunds=list(StripeRefund.objects.filter(order=order).order_by("created_at")),
        excess=list(ExcessPayment.objects.filter(order=order).order_by("created_at")),
        disputes=list(StripeDispute.objects.filter(order=order).order_by("created_at")),
        attempts=list(PaymentAttempt.objects.filter(order=order).order_by("number")),
    )


def excess_payments(*, open_only=False):
    """Every excess payment, newest first; `open_only`: those not yet refunded."""
    rows = ExcessPayment.objects.select_related("order").order_by("-created_at")
    if open_only:
        rows = rows.exclude(status=ExcessPayment.REFUNDED)
    return rows


def webhook_events(*, outcome=None):
    """Stored Stripe events, newest first; `outcome` narrows to one (received, processed, ignored, failed)."""
    events = StripeEvent.objects.defer("payload", "error").order_by("-received_at", "-pk")
    return events.filter(outcome=outcome) if outcome else events


def webhook_event_counts():
    """How many stored events have each outcome (every outcome present, 0 when none)."""
    counts = dict.fromkeys((o for o, _ in StripeEvent.OUTCOMES), 0)
    counts.update(StripeEvent.objects.values_list("outcome").annotate(n=Count("pk")).order_by())
    return counts
