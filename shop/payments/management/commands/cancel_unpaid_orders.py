"""Cancel orders left unpaid for longer than --older-than minutes (DESIGN step 6).

For each: its PaymentIntents are cancelled at Stripe, its stock allocation released, its status set to
Cancelled. An order whose payment turns out to have succeeded is captured instead. Exits non-zero with
one line per order that could not be handled (Stripe unreachable); they stay pending for the next run.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from oscar.apps.payment.exceptions import PaymentError
from oscar.core.loading import get_model

from shop.payments import services
from shop.payments.gateway import get_gateway

Order = get_model("order", "Order")


class Command(BaseCommand):
    help = "Cancel orders still pending payment after --older-than minutes and release their stock."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, required=True, metavar="MINUTES",
                            help="cancel orders placed more than this many minutes ago")

    def handle(self, *args, older_than, **options):
        if older_than < 1:
            raise CommandError("--older-than must be at least 1 minute")
        cutoff = timezone.now() - timedelta(minutes=older_than)
        gateway = get_gateway()
        counts = {"cancelled": 0, "captured": 0, "skipped": 0}
        errors = []
        for order in Order.objects.filter(status=services.PENDING, date_placed__lt=cutoff).order_by("pk").iterator():
            try:
                outcome = services.cancel_unpaid_order(order=order, gateway=gateway)
            except PaymentError as exc:
                errors.append(f"order {order.number}: Stripe could not be asked: {exc}")
                continue
            counts[outcome] += 1
            self.stdout.write(f"order {order.number}: {outcome}")
        self.stdout.write("unpaid orders: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        if errors:
            for line in errors:
                self.stderr.write(line)
            raise CommandError(f"{len(errors)} orders could not be cancelled; they stay pending")
