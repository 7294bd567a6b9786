"""Order placement in constant queries (issue 15, item 2; shop/checkout/ordercreator.py).

Placing an order costs the same queries for 1 line or 20, writes exactly the rows Oscar's own OrderCreator
writes, allocates each line's quantity, and writes nothing when a line is short of stock.
"""

from decimal import Decimal as D

import pytest
from django.db import connection, transaction
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from oscar.apps.analytics import receivers as oscar_analytics
from oscar.apps.checkout import mixins as oscar_checkout_mixins
from oscar.apps.order.utils import OrderCreator as OscarOrderCreator
from oscar.apps.shipping.methods import Free
from oscar.core.loading import get_class, get_model

from fundraising.models import OrderLineBreakdown
from shop.checkout import analytics
from shop.checkout.ordercreator import OrderCreator
from shop.checkout.placement import build_basket, place_pending_order
from shop.checkout.stock import OutOfStock
from shop.payments import services as payments

pytestmark = pytest.mark.django_db

Applicator = get_class("offer.applicator", "Applicator")
Benefit = get_model("offer", "Benefit")
Condition = get_model("offer", "Condition")
ConditionalOffer = get_model("offer", "ConditionalOffer")
Line = get_model("order", "Line")
LineAttribute = get_model("order", "LineAttribute")
LinePrice = get_model("order", "LinePrice")
Option = get_model("catalogue", "Option")
Order = get_model("order", "Order")
OrderDiscount = get_model("order", "OrderDiscount")
OrderLineDiscount = get_model("order", "OrderLineDiscount")
OrderTotalCalculator = get_class("checkout.calculators", "OrderTotalCalculator")
ProductRecord = get_model("analytics", "ProductRecord")
Range = get_model("offer", "Range")
ShippingAddress = get_model("order", "ShippingAddress")
Country = get_model("address", "Country")
StockAlert = get_model("partner", "StockAlert")
StockRecord = get_model("partner", "StockRecord")

ADDRESS = {"first_name": "Ana", "last_name": "Fan", "line1": "1 Main St", "line4": "Boston", "state": "MA",
           "postcode": "02110", "country": "US"}


def variants(n):
    """``n`` stock records of distinct variants (T-shirts, tanks, hoodies, in SKU order)."""
    records = list(StockRecord.objects.select_related("product").filter(product__structure="child")
                   .order_by("partner_sku")[:n])
    assert len(records) == n
    return records


def placement_queries(records, quantity=1):
    basket = build_basket(items=[(record.product, quantity) for record in records])
    with CaptureQueriesContext(connection) as queries:
        order = place_pending_order(basket=basket, email="fan@example.org", address=ADDRESS)
    assert order.lines.count() == len(records)
    return len(queries.captured_queries)


def test_the_order_creator_of_every_placement_path_is_ours():
    # the storefront's and the API's checkout (Oscar's OrderPlacementMixin, imported by oscarapi too) and
    # place_pending_order all get it from the class loader
    assert get_class("order.utils", "OrderCreator") is OrderCreator
    assert oscar_checkout_mixins.OrderCreator is OrderCreator
    assert issubclass(OrderCreator, OscarOrderCreator)


def test_placement_queries_do_not_grow_with_the_lines(p6_catalogue):
    # given baskets of 1, 5 and 20 distinct variants (warmed once: the site and content types are cached)
    placement_queries(variants(2))
    # when each is placed
    counts = [placement_queries(variants(n)) for n in (1, 5, 20)]
    # then each placement costs the same queries
    assert counts[0] == counts[1] == counts[2], counts


def test_placement_queries_do_not_grow_with_the_quantities_or_a_standalone_product(p6_catalogue):
    placement_queries(variants(2))
    one = placement_queries(variants(1))
    # 20 variants, 3 of each: still the same
    assert placement_queries(variants(20), quantity=3) == one
    # a basket mixing a standalone product (the pin) with variants: one more query, the standalone product's
    # class (a variant's comes with its parent)
    pin = StockRecord.objects.get(partner_sku="P6-PIN")
    assert placement_queries([pin, *variants(19)]) == one + 1


def test_allocations_equal_the_quantities(p6_catalogue):
    # given three variants, none allocated, in a basket of 1, 2 and 3 of them
    records = variants(3)
    assert [r.num_allocated or 0 for r in records] == [0, 0, 0]
    basket = build_basket(items=[(r.product, q) for r, q in zip(records, (1, 2, 3), strict=True)])
    # when it is placed
    order = place_pending_order(basket=basket, email="fan@example.org", address=ADDRESS)
    # then each record has its line's quantity allocated, as has each order line
    for record in records:
        record.refresh_from_db()
    assert [r.num_allocated for r in records] == [1, 2, 3]
    assert [(line.stockrecord_id, line.quantity, line.num_allocated) for line in order.lines.order_by("pk")] == [
        (records[0].pk, 1, 1), (records[1].pk, 2, 2), (records[2].pk, 3, 3)]


def test_out_of_stock_on_line_7_of_10_writes_nothing(p6_catalogue):
    # given a basket of 10 variants whose 7th has 2 left, of which the fan wants 3
    records = variants(10)
    StockRecord.objects.filter(pk=records[6].pk).update(num_in_stock=2, num_allocated=0)
    before = dict(StockRecord.objects.values_list("pk", "num_allocated"))
    basket = build_basket(items=[(r.product, 3 if i == 6 else 1) for i, r in enumerate(records)])
    # when it is placed
    with pytest.raises(OutOfStock, match="only 2 left"):
        place_pending_order(basket=basket, email="fan@example.org", address=ADDRESS)
    # then nothing was written: no order, line, price, allocation, alert or snapshot; the basket is still open
    assert Order.objects.count() == 0
    assert Line.objects.count() == 0
    assert LinePrice.objects.count() == 0
    assert OrderLineBreakdown.objects.count() == 0
    assert ShippingAddress.objects.count() == 0
    assert StockAlert.objects.count() == 0
    assert ProductRecord.objects.filter(num_purchases__gt=0).count() == 0
    assert dict(StockRecord.objects.values_list("pk", "num_allocated")) == before
    basket.refresh_from_db()
    assert basket.status == "Open"


# --- the rows written are Oscar's ---------------------------------------------------------------------------

class Rollback(Exception):
    pass


def ten_percent_off_tees():
    """An offer on the T-shirts only, so that some lines carry a discount and others do not."""
    tees = Range.objects.create(name="T-shirts")
    for record in StockRecord.objects.filter(partner_sku__startswith="P6-TEE-"):
        tees.add_product(record.product)
    condition = Condition.objects.create(range=tees, type=Condition.COUNT, value=1)
    benefit = Benefit.objects.create(range=tees, type=Benefit.PERCENTAGE, value=D("10.00"))
    return ConditionalOffer.objects.create(name="Tees 10 %", offer_type=ConditionalOffer.SITE,
                                           condition=condition, benefit=benefit)


def mixed_basket():
    """T-shirts (discounted), a tank, a hoodie and the pin, one T-shirt twice (two lines, two engravings)."""
    engraving = Option.objects.get_or_create(code="engraving", defaults={"name": "Engraving"})[0]
    skus = ["P6-TEE-BLK-M", "P6-TEE-BLK-L", "P6-TANK-BLK-S", "P6-HOOD-NVY-XL", "P6-PIN"]
    records = {r.partner_sku: r for r in StockRecord.objects.select_related("product").filter(partner_sku__in=skus)}
    basket = build_basket(items=[(records[sku].product, q) for sku, q in zip(skus, (2, 1, 3, 1, 4), strict=True)])
    basket.add_product(records["P6-TEE-BLK-M"].product, 1, options=[{"option": engraving, "value": "P6"}])
    basket.reset_offer_applications()
    Applicator().apply(basket)
    return basket


def rows(model, **filters):
    """The rows of ``model`` as dicts without their keys, timestamps and links to other new rows."""
    skip = {"id", "order", "line", "order_discount", "basket", "date_placed", "date_created", "date_closed",
            "date_updated", "shipping_address", "number"}
    return [{k: v for k, v in model_to_dict(row).items() if k not in skip}
            for row in model.objects.filter(**filters).order_by("pk")]


def written_by(creator, basket, offer):
    """Place ``basket`` with ``creator`` and return every row it wrote or changed, then roll it all back."""
    shipping_method = Free()
    charge = shipping_method.calculate(basket)
    total = OrderTotalCalculator().calculate(basket, charge)
    fields = dict(ADDRESS, country=Country.objects.get(iso_3166_1_a2="US"))
    result = {}
    try:
        with transaction.atomic():
            order = creator.place_order(
                basket=basket, total=total, shipping_method=shipping_method, shipping_charge=charge,
                shipping_address=ShippingAddress.objects.create(**fields), order_number="777",
                status=payments.PENDING, guest_email="fan@example.org",
            )
            result = {
                "order": rows(Order, pk=order.pk),
                "lines": rows(Line, order=order),
                "line indexes": [list(order.lines.order_by("pk").values_list("pk", flat=True)).index(p.line_id)
                                 for p in LinePrice.objects.filter(order=order).order_by("pk")],
                "prices": rows(LinePrice, order=order),
                "attributes": rows(LineAttribute, line__order=order),
                "discounts": rows(OrderDiscount, order=order),
                "line discounts": rows(OrderLineDiscount, line__order=order),
                "allocated": sorted(StockRecord.objects.filter(num_allocated__gt=0)
                                    .values_list("partner_sku", "num_allocated")),
                "alerts": sorted(StockAlert.objects.values_list("stockrecord__partner_sku", "threshold", "status")),
                "offer": ConditionalOffer.objects.filter(pk=offer.pk)
                .values_list("num_applications", "total_discount", "num_orders").get(),
            }
            raise Rollback
    except Rollback:
        pass
    return result


def test_the_rows_written_are_those_of_oscars_order_creator(p6_catalogue):
    # given a T-shirt offer, a basket with discounted and full-price lines, an option, a stock record sold to
    # below its low-stock threshold and one whose open alert the sale leaves above it
    offer = ten_percent_off_tees()
    StockRecord.objects.filter(partner_sku="P6-TANK-BLK-S").update(num_in_stock=7, low_stock_threshold=5)
    hoodie = StockRecord.objects.get(partner_sku="P6-HOOD-NVY-XL")
    StockAlert.objects.create(stockrecord=hoodie, threshold=hoodie.low_stock_threshold)
    # when Oscar's OrderCreator places it (rolled back), then ours places an identical basket
    oscars = written_by(OscarOrderCreator(), mixed_basket(), offer)
    ours = written_by(OrderCreator(), mixed_basket(), offer)
    # then both wrote the same rows with the same values, field by field
    assert oscars["lines"] and oscars["discounts"] and oscars["line discounts"] and oscars["attributes"]
    assert ("P6-TANK-BLK-S", 5, "Open") in oscars["alerts"] and ("P6-HOOD-NVY-XL", 5, "Closed") in oscars["alerts"]
    assert oscars["offer"][2] == 1
    for key in oscars:
        assert ours[key] == oscars[key], key
    assert len(ours["lines"]) == 6 and ours["allocated"] == sorted(
        [("P6-TEE-BLK-M", 3), ("P6-TEE-BLK-L", 1), ("P6-TANK-BLK-S", 3), ("P6-HOOD-NVY-XL", 1), ("P6-PIN", 4)])


def test_purchases_are_counted_as_oscars_analytics_counts_them(p6_catalogue):
    # given an order of a product bought before, a new one, and one product on two lines
    records = variants(2)
    ProductRecord.objects.create(product=records[0].product, num_views=4, num_purchases=2)
    basket = build_basket(items=[(records[0].product, 1), (records[1].product, 2)])
    engraving = Option.objects.create(code="engraving", name="Engraving")
    basket.add_product(records[1].product, 1, options=[{"option": engraving, "value": "P6"}])
    basket.reset_offer_applications()
    order = place_pending_order(basket=basket, email="fan@example.org", address=ADDRESS)
    ours = sorted(ProductRecord.objects.values_list("product_id", "num_views", "num_basket_additions",
                                                    "num_purchases", "score"))
    # then the product bought before has its purchase added, the new one a row of its own (1 + 2 + 1 here)
    assert ours == sorted([(records[0].product_id, 4, 0, 3, 0.0), (records[1].product_id, 0, 0, 3, 0.0)])
    # and Oscar's receiver, counting the same order again, adds what ours added
    oscar_analytics._record_products_in_order(order)
    assert sorted(ProductRecord.objects.values_list("product_id", "num_purchases")) == sorted([
        (records[0].product_id, 4), (records[1].product_id, 6)])
    analytics.record_purchases(order)
    assert sorted(ProductRecord.objects.values_list("product_id", "num_purchases")) == sorted([
        (records[0].product_id, 5), (records[1].product_id, 9)])


def storefront_place_order_queries(client, records):
    """The queries of the storefront's "Place order" POST (the order-placed email, sent on commit, left out)."""
    from django.test import TestCase
    from django.urls import reverse

    for record in records:
        product = record.product
        client.post(reverse("basket:add", kwargs={"pk": product.parent_id}), {"quantity": 1, "child_id": product.pk})
    client.post(reverse("checkout:index"), {"username": "fan@example.org", "options": "anonymous"})
    client.post(reverse("checkout:shipping-address"), dict(ADDRESS))
    client.get(reverse("checkout:shipping-method"))
    with TestCase.captureOnCommitCallbacks(execute=False), CaptureQueriesContext(connection) as queries:
        response = client.post(reverse("checkout:preview"), {"action": "place_order"})
    assert response.status_code == 302
    assert Order.objects.order_by("-pk").first().lines.count() == len(records)
    return len(queries.captured_queries)


def test_the_storefronts_place_order_queries_do_not_grow_with_the_lines(p6_catalogue):
    from django.test import Client

    storefront_place_order_queries(Client(), variants(2))
    counts = [storefront_place_order_queries(Client(), variants(n)) for n in (1, 10)]
    assert counts[0] == counts[1], counts
