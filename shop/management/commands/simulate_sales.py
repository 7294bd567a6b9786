"""Place and pay N simulated orders through the storefront's own services, for demo data and benchmarks.

Each order is a real Oscar order placed by `place_pending_order` (what "Place order" does) and paid by
`payment_captured` (what the payment page and the webhook call), so it gets its breakdown and its sale
posting exactly like a storefront sale. The money is simulated and says so: the payment source is
"Simulated (never sent to Stripe)", references start with `sim_`, fees are the configured fee schedule
(`Fee(None, estimated=True)`: there is no Stripe charge to read one from). With --refund-rate some orders are
refunded (whole, by line or by amount) through `record_refund`, as a Stripe refund would be. Deterministic
for a seed: the same seed on the same catalogue makes the same baskets and refunds.

With --days N the orders are spread over the last N UTC days (today and the N-1 before it), oldest first:
each order's placement, payment, sale posting and refund happen under a clock set to its day (noon UTC plus
a second per order; today's orders at the real time), so the order's date and its ledger postings agree.
Without it every order is placed now, as before. On a terminal, progress goes to stderr (never when piped).
"""

import contextlib
import datetime as dt
import random
from decimal import Decimal
from unittest import mock

from django.core.management.base import BaseCommand, CommandError
from django.db.models import F
from oscar.core.loading import get_model

from fundraising.money import Fee, quantize
from fundraising.progress import Progress
from shop.checkout.placement import build_basket, place_pending_order
from shop.payments import services as payments
from shop.payments.gateway import PaymentIntent, Refund

Product = get_model("catalogue", "Product")
StockRecord = get_model("partner", "StockRecord")

ADDRESS = {"first_name": "Sim", "last_name": "Fan", "line1": "1 Simulation Way", "line4": "Boston",
           "state": "MA", "postcode": "02110", "country": "US"}


class Command(BaseCommand):
    help = "Place and pay simulated orders (never sent to Stripe) through the storefront's services."

    def add_arguments(self, parser):
        parser.add_argument("--orders", type=int, required=True, help="how many orders to place")
        parser.add_argument("--seed", type=int, default=6, help="random seed (same seed, same sales)")
        parser.add_argument("--refund-rate", type=float, default=0.0,
                            help="share of orders refunded afterwards, 0..1 (default 0)")
        parser.add_argument("--max-lines", type=int, default=3, help="most lines per order (default 3)")
        parser.add_argument("--restock", action="store_true",
                            help="top up a variant's stock when it runs out instead of skipping it")
        parser.add_argument("--days", type=int, default=None,
                            help="spread the orders over the last N days (UTC, today included); default: all now")

    def handle(self, *args, orders, seed, refund_rate, max_lines, restock, days=None, **options):
        if orders < 1:
            raise CommandError("--orders must be at least 1")
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1")
        if not 0 <= refund_rate <= 1:
            raise CommandError("--refund-rate must be between 0 and 1")
        if max_lines < 1:
            raise CommandError("--max-lines must be at least 1")
        records = list(StockRecord.objects.select_related("product").filter(
            product__is_public=True, price__isnull=False).order_by("partner_sku"))
        if not records:
            raise CommandError("the catalogue is empty: run load_p6_catalogue first")
        rng = random.Random(seed)
        placed = refunded = skipped = 0
        revenue = Decimal("0")
        currency = records[0].price_currency
        progress = Progress(self.stderr, total=orders, label="simulate_sales: orders").start()
        for n in range(orders):
            progress.step()
            items = self.pick(rng, records, max_lines, restock)
            if not items:
                skipped += 1
                continue
            with clock(order_moment(n, orders, days)):
                order = place_pending_order(basket=build_basket(items=items), email=f"sim{n}@example.org",
                                            address=ADDRESS)
                intent = PaymentIntent(
                    id=f"sim_pi_{order.number}", status="succeeded", amount=order.total_incl_tax,
                    currency=order.currency, amount_received=order.total_incl_tax, client_secret=None,
                    payment_method="simulated", latest_charge_id=None, metadata={"simulated": "true"},
                    last_error_message=None, next_action_type=None,
                )
                payments.payment_captured(order=order, intent=intent, fee=Fee(None, estimated=True),
                                          simulated=True)
                placed += 1
                revenue += order.total_incl_tax
                if rng.random() < refund_rate:
                    self.refund(rng, order, intent)
                    refunded += 1
        progress.done()
        self.stdout.write(
            f"simulated {placed} paid orders ({refunded} refunded, {skipped} skipped for lack of stock), "
            f"{quantize(revenue, currency)} {currency} taken, seed {seed}"
        )

    def pick(self, rng, records, max_lines, restock):
        chosen = rng.sample(records, k=min(len(records), rng.randint(1, max_lines)))
        items = []
        for record in chosen:
            quantity = rng.choice([1, 1, 1, 2, 3])
            record.refresh_from_db(fields=["num_in_stock", "num_allocated"])
            if (record.net_stock_level or 0) < quantity:
                if not restock:
                    continue
                StockRecord.objects.filter(pk=record.pk).update(num_in_stock=F("num_in_stock") + 100)
            items.append((record.product, quantity))
        return items

    def refund(self, rng, order, intent):
        lines = list(order.lines.all())
        kind = rng.choice(["whole", "line", "amount"])
        metadata = {"simulated": "true"}
        if kind == "whole":
            amount = order.total_incl_tax
        elif kind == "line":
            line = rng.choice(lines)
            amount = payments.refund_amount_for_lines(order=order, line_quantities={line: 1})
            metadata["lines"] = f"{line.pk}:1"
        else:
            amount = quantize(order.total_incl_tax * Decimal(rng.randint(1, 50)) / 100, order.currency)
        refund = Refund(id=f"sim_re_{order.number}", amount=amount, currency=order.currency, status="succeeded",
                        charge_id=None, payment_intent_id=intent.id, metadata=metadata)
        payments.record_refund(order=order, refund=refund)


def order_moment(n, orders, days):
    """When order ``n`` of ``orders`` happens: None (now) without ``days``; else on day ``days - 1 - n * days //
    orders`` before today (UTC), so the orders fill the days evenly, oldest first; today's at the real time."""
    if days is None:
        return None
    back = days - 1 - (n * days // orders)
    if back == 0:
        return None
    today = dt.datetime.now(dt.timezone.utc).date()
    noon = dt.datetime.combine(today - dt.timedelta(days=back), dt.time(12), tzinfo=dt.timezone.utc)
    return noon + dt.timedelta(seconds=n)


@contextlib.contextmanager
def clock(moment):
    """Django's (and Oscar's order model's) ``now`` set to ``moment`` for what runs inside; nothing when None."""
    if moment is None:
        yield
        return
    # Oscar's AbstractOrder.set_date_placed_default calls the ``now`` it imported by name.
    with mock.patch("django.utils.timezone.now", lambda: moment), \
            mock.patch("oscar.apps.order.abstract_models.now", lambda: moment):
        yield
