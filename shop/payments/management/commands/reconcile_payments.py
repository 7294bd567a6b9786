"""Ask Stripe about every order whose money may not be settled here, and apply it through the same services.

Recovers lost webhooks, lost answers and crashes: a payment Stripe reports succeeded is booked (exactly
once: payment_captured is idempotent) or, when it cannot be the order's payment, refunded as an excess
payment; an order whose every attempt was cancelled at Stripe is cancelled here too; pending refunds and
refund reservations that may never have reached Stripe are settled; excess payments not yet refunded are
refunded; and for orders paid in the last --refund-days days, refunds made at Stripe that we never heard
of are recorded. Prints one line per order it changed and a summary; exits non-zero when Stripe could not
be asked about some order (they are retried on the next run).
"""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils import timezone
from oscar.apps.payment.exceptions import PaymentError
from oscar.core.loading import get_model

from shop.payments import services
from shop.payments.gateway import get_gateway
from shop.payments.models import ExcessPayment, StripeRefund

Order = get_model("order", "Order")


class Command(BaseCommand):
    help = "Apply what Stripe knows to every order whose money is not settled here (lost webhooks, crashes)."

    def add_arguments(self, parser):
        parser.add_argument("--refund-days", type=int, default=7, metavar="DAYS",
                            help="also compare refunds with Stripe for orders placed in the last DAYS days")

    def handle(self, *args, refund_days, **options):
        if refund_days < 0:
            raise CommandError("--refund-days must be 0 or more")
        gateway = get_gateway()
        since = timezone.now() - timedelta(days=refund_days)
        open_refunds = StripeRefund.objects.filter(status__in=(StripeRefund.PENDING, StripeRefund.REQUESTED))
        open_excess = ExcessPayment.objects.exclude(status__in=(ExcessPayment.REFUNDED, ExcessPayment.DISPUTED))
        if refund_days:
            # Recent orders are compared with Stripe: paid ones, and any with a refunded excess payment (a
            # cancelled order's too), since a refund can fail after it succeeded and its webhook can be lost.
            refunded_excess = ExcessPayment.objects.filter(status=ExcessPayment.REFUNDED).values("order_id")
            recent = Q(date_placed__gte=since) & (Q(status__in=services.PAID_STATUSES) | Q(pk__in=refunded_excess))
        else:
            recent = Q(pk__in=[])
        orders = Order.objects.filter(
            Q(status=services.PENDING, payment_attempts__isnull=False)
            | Q(pk__in=open_refunds.values("order_id")) | Q(pk__in=open_excess.values("order_id")) | recent
        ).distinct()
        counts = {"captured": 0, "cancelled": 0, "repaired": 0, "unchanged": 0, "errors": 0}
        for order in orders.order_by("pk").iterator():
            try:
                changed = services.reconcile_order(order=order, gateway=gateway,
                                                   check_refunds=order.date_placed >= since)
            except PaymentError as exc:
                counts["errors"] += 1
                self.stderr.write(f"order {order.number}: Stripe could not be asked: {exc}")
                continue
            kind = "captured" if "captured" in changed else "cancelled" if "cancelled" in changed else \
                "repaired" if changed else "unchanged"
            counts[kind] += 1
            if changed:
                self.stdout.write(f"order {order.number}: {', '.join(changed)}")
        self.stdout.write("reconciled: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        if counts["errors"]:
            raise CommandError(f"{counts['errors']} orders could not be reconciled; run again later")
