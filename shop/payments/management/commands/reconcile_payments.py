"""Ask Stripe what happened to every order still pending payment, and apply it through the same services.

Recovers lost webhooks and a crash between Stripe's success and our write: an attempt whose intent
succeeded is captured (exactly once: payment_captured is idempotent); an order whose every attempt was
cancelled at Stripe is cancelled here too. Prints one line per order it changed and a summary; exits
non-zero when Stripe could not be asked about some order (they are retried on the next run).
"""

from django.core.management.base import BaseCommand, CommandError
from oscar.apps.payment.exceptions import PaymentError
from oscar.core.loading import get_model

from shop.payments import services
from shop.payments.gateway import get_gateway
from shop.payments.models import PaymentAttempt

Order = get_model("order", "Order")


class Command(BaseCommand):
    help = "Apply what Stripe knows to every order pending payment (lost webhooks, crashes)."

    def handle(self, *args, **options):
        gateway = get_gateway()
        counts = {"captured": 0, "cancelled": 0, "unchanged": 0, "errors": 0}
        orders = Order.objects.filter(status=services.PENDING, payment_attempts__isnull=False).distinct()
        for order in orders.order_by("pk").iterator():
            try:
                outcome = self.reconcile(order, gateway)
            except PaymentError as exc:
                counts["errors"] += 1
                self.stderr.write(f"order {order.number}: Stripe could not be asked: {exc}")
                continue
            counts[outcome] += 1
            if outcome != "unchanged":
                self.stdout.write(f"order {order.number}: {outcome}")
        self.stdout.write("reconciled: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        if counts["errors"]:
            raise CommandError(f"{counts['errors']} orders could not be reconciled; run again later")

    def reconcile(self, order, gateway):
        attempts = list(PaymentAttempt.objects.filter(order=order).order_by("number"))
        intents = [gateway.retrieve_intent(attempt.intent_id) for attempt in attempts]
        for attempt, intent in zip(attempts, intents):
            if intent.status == "succeeded":
                result = services.payment_captured(order=order, intent=intent, gateway=gateway)
                services.mark_attempt(intent_id=intent.id, status=PaymentAttempt.SUCCEEDED)
                return "captured" if result.outcome == "captured" else "unchanged"
        if intents and all(intent.status == "canceled" for intent in intents):
            return "cancelled" if services.cancel_unpaid_order(order=order, gateway=gateway) == "cancelled" \
                else "unchanged"
        return "unchanged"
