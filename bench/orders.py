"""Order placement + payment capture + donation posting, and stock Oscar's order placement.

`--ours` (our settings): orders/s of place_pending_order + payment_captured with a simulated succeeded
intent (what simulate_sales does); queries and time of each step for 1, 5 and 20 lines and for 1, 3 and
12 beneficiaries (set_share_rule with N beneficiaries, equal weights, 50 %). `--stock` (stock Oscar
settings): OrderCreator.place_order on the same baskets (same P6 stock records by SKU), as Oscar's
checkout does. Each prints one JSON object; bench/run feeds both to `--report`. Targets (issue 15):
placement queries at 20 lines <= 1.2x those at 1 line, placement time <= 1.10x stock Oscar's for 3 lines.
"""

import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

ADDRESS = {"first_name": "Bench", "last_name": "Fan", "line1": "1 Bench Way", "line4": "Boston",
           "state": "MA", "postcode": "02110", "country": "US"}
N_TIMED = int(os.environ.get("BENCH_ORDERS", "60"))


def items(n_lines):
    from oscar.core.loading import get_model
    StockRecord = get_model("partner", "StockRecord")
    records = StockRecord.objects.select_related("product").order_by("partner_sku")[:n_lines]
    return [(r.product, 1) for r in records]


def ours():
    import django
    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from fundraising.models import Beneficiary
    from fundraising.money import Fee
    from fundraising.services import set_share_rule
    from shop.checkout.placement import build_basket, place_pending_order
    from shop.payments import services as payments
    from shop.payments.gateway import PaymentIntent

    def intent_for(order):
        return PaymentIntent(
            id=f"sim_pi_{order.number}", status="succeeded", amount=order.total_incl_tax, currency=order.currency,
            amount_received=order.total_incl_tax, client_secret=None, payment_method="simulated",
            latest_charge_id=None, metadata={"simulated": "true"}, last_error_message=None, next_action_type=None,
        )

    def rule(n):
        for i in range(n):
            Beneficiary.objects.get_or_create(slug=f"bench-{i:02d}", defaults={"name": f"Bench group {i:02d}"})
        chosen = list(Beneficiary.objects.filter(active=True).order_by("slug")[:n])
        set_share_rule(share_bps=5000, weights=[(b, 1) for b in chosen], note="bench")
        time.sleep(0.01)

    def one(its, *, count=False):
        """(place ms, capture ms, place queries, capture queries) of one order."""
        basket = build_basket(items=its)
        with CaptureQueriesContext(connection) as q1:
            t0 = time.perf_counter()
            order = place_pending_order(basket=basket, email="bench@example.org", address=ADDRESS)
            t1 = time.perf_counter()
        with CaptureQueriesContext(connection) as q2:
            t2 = time.perf_counter()
            result = payments.payment_captured(order=order, intent=intent_for(order),
                                               fee=Fee(None, estimated=True), simulated=True)
            t3 = time.perf_counter()
        assert result.outcome == "captured", result.outcome
        return (t1 - t0) * 1000, (t3 - t2) * 1000, len(q1.captured_queries), len(q2.captured_queries)

    out = {"lines": {}, "beneficiaries": {}}
    rule(3)
    for n in (1, 5, 20):
        one(items(n))
        out["lines"][n] = one(items(n))
    for b in (1, 3, 12):
        rule(b)
        one(items(3))
        out["beneficiaries"][b] = one(items(3))
    rule(3)
    three = items(3)
    for _ in range(3):
        one(three)
    samples = []
    t = time.perf_counter()
    for _ in range(N_TIMED):
        samples.append(one(three))
    elapsed = time.perf_counter() - t
    out["orders_per_s"] = N_TIMED / elapsed
    out["place_ms"] = statistics.median(s[0] for s in samples)
    out["capture_ms"] = statistics.median(s[1] for s in samples)
    print(json.dumps(out))


def stock():
    import django
    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from oscar.apps.shipping.methods import Free
    from oscar.core.loading import get_class, get_model

    Basket = get_model("basket", "Basket")
    Country = get_model("address", "Country")
    ShippingAddress = get_model("order", "ShippingAddress")
    OrderCreator = get_class("order.utils", "OrderCreator")
    OrderNumberGenerator = get_class("order.utils", "OrderNumberGenerator")
    OrderTotalCalculator = get_class("checkout.calculators", "OrderTotalCalculator")
    Selector = get_class("partner.strategy", "Selector")

    def one(its):
        basket = Basket.objects.create()
        basket.strategy = Selector().strategy()
        for product, quantity in its:
            basket.add_product(product, quantity)
        basket.reset_offer_applications()
        method = Free()
        charge = method.calculate(basket)
        total = OrderTotalCalculator().calculate(basket, charge)
        fields = dict(ADDRESS)
        fields["country"] = Country.objects.get(iso_3166_1_a2=fields.pop("country"))
        with CaptureQueriesContext(connection) as q:
            t0 = time.perf_counter()
            address = ShippingAddress.objects.create(**fields)
            OrderCreator().place_order(basket=basket, total=total, shipping_method=method, shipping_charge=charge,
                                       user=None, shipping_address=address,
                                       order_number=OrderNumberGenerator().order_number(basket),
                                       guest_email="bench@example.org")
            basket.submit()
            t1 = time.perf_counter()
        return (t1 - t0) * 1000, len(q.captured_queries)

    out = {"lines": {}}
    for n in (1, 5, 20):
        one(items(n))
        out["lines"][n] = one(items(n))
    three = items(3)
    for _ in range(3):
        one(three)
    samples = [one(three) for _ in range(N_TIMED)]
    out["place_ms"] = statistics.median(s[0] for s in samples)
    print(json.dumps(out))


def report(*pairs_json):
    """Report from ``ours, stock, ours, stock, ...`` (the rounds bench/run made alternately): queries from the
    first round (they do not vary), times and ratios as the median over the rounds."""
    from common import record
    rounds = [(json.loads(a), json.loads(b)) for a, b in zip(pairs_json[::2], pairs_json[1::2], strict=True)]
    o, s = rounds[0]
    lines = {int(k): v for k, v in o["lines"].items()}
    bens = {int(k): v for k, v in o["beneficiaries"].items()}
    slines = {int(k): v for k, v in s["lines"].items()}

    def median(of):
        return statistics.median(of(ours, stock) for ours, stock in rounds)

    def per_round(of):
        return f"median of {len(rounds)} rounds: " + ", ".join(f"{of(ours, stock):.2f}" for ours, stock in rounds)

    record("orders", "orders/s (place + capture + posting, 3 lines, 3 beneficiaries, one process)",
           f"{median(lambda ours, _: ours['orders_per_s']):.1f}", "orders/s")
    cap_l = [lines[n][3] for n in (1, 5, 20)]
    cap_b = [bens[n][3] for n in (1, 3, 12)]
    record("orders", "capture+posting queries @ 1/5/20 lines", "/".join(map(str, cap_l)), "queries",
           target="independent of lines", ok=len(set(cap_l)) == 1)
    record("orders", "capture+posting queries @ 1/3/12 beneficiaries", "/".join(map(str, cap_b)), "queries",
           target="independent of beneficiaries", ok=len(set(cap_b)) == 1)
    place_l = [lines[n][2] for n in (1, 5, 20)]
    place_b = [bens[n][2] for n in (1, 3, 12)]
    stock_l = [slines[n][1] for n in (1, 5, 20)]
    record("orders", "placement queries @ 1/5/20 lines (ours)", "/".join(map(str, place_l)), "queries",
           target="@20 <= 1.2x @1", ok=place_l[2] <= 1.2 * place_l[0], ratio=round(place_l[2] / place_l[0], 2),
           note="stock Oscar place_order: " + "/".join(map(str, stock_l)) + " (its per-line inserts; ours are bulk)")
    record("orders", "placement queries @ 1/3/12 beneficiaries (ours)", "/".join(map(str, place_b)), "queries",
           target="independent of beneficiaries", ok=len(set(place_b)) == 1)
    stock_ms = median(lambda _, stock: stock["place_ms"])

    def capture_ratio(ours, stock):
        return ours["capture_ms"] / stock["place_ms"]

    ratio = median(capture_ratio)
    record("orders", "capture+posting / stock Oscar place_order (3 lines)",
           f"{median(lambda ours, _: ours['capture_ms']):.1f} / {stock_ms:.1f}", "ms", target="ratio <= 1.10",
           ok=ratio <= 1.10, ratio=round(ratio, 2), note=per_round(capture_ratio) if len(rounds) > 1 else "")

    def place_ratio(ours, stock):
        return ours["place_ms"] / stock["place_ms"]

    ratio = median(place_ratio)
    record("orders", "our place_pending_order / stock place_order (3 lines)",
           f"{median(lambda ours, _: ours['place_ms']):.1f} / {stock_ms:.1f}", "ms", target="ratio <= 1.10",
           ok=ratio <= 1.10, ratio=round(ratio, 2),
           note=(per_round(place_ratio) + "; " if len(rounds) > 1 else "")
           + "ours also prices the basket, locks its stock and takes the donation snapshot; stock Oscar's "
             "basket is priced before its clock starts")


if __name__ == "__main__":
    if sys.argv[1] == "--ours":
        ours()
    elif sys.argv[1] == "--stock":
        stock()
    else:
        report(*sys.argv[2:])
