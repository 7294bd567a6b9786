"""Oscar's OrderCreator writing an order in the same queries for 1 line or 20 (issue 15, item 2).

Oscar's ``OrderCreator.place_order`` creates each line with its prices, attributes and discounts one row at a
time, then allocates stock one record at a time (an UPDATE, a re-read and the stock record's signals, each
reading the record's alerts): about 15 queries per line. This subclass keeps Oscar's ``place_order`` as it is
(order, vouchers, discounts, offer and voucher usage, ``order_placed``) and only changes *how* the lines are
written: while ``place_order`` runs, ``create_line_models`` builds each line unsaved; the first
``update_stock_records`` call (Oscar makes it right after the last line) bulk-inserts the lines, then their
prices, attributes and discounts (one INSERT per table), and allocates the stock of every line in one UPDATE.
The rows and values are Oscar's (tests/shop/test_placement_queries.py compares them with Oscar's own
OrderCreator, field by field).

Found through ``get_class("order.utils", "OrderCreator")`` (shop/loading.py), so the storefront checkout, the
API and ``place_pending_order`` all use it.
"""

from collections import defaultdict

from django.conf import settings
from django.db.models import Case, F, IntegerField, Value, When, prefetch_related_objects
from django.db.models.functions import Coalesce
from oscar.apps.order import exceptions
from oscar.apps.order.utils import OrderCreator as OscarOrderCreator
from oscar.core.loading import get_model

from shop.checkout import stocksignals
from shop.partner.strategy import load_line_products

Line = get_model("order", "Line")
LinePrice = get_model("order", "LinePrice")
LineAttribute = get_model("order", "LineAttribute")
OrderDiscount = get_model("order", "OrderDiscount")
OrderLineDiscount = get_model("order", "OrderLineDiscount")
Partner = get_model("partner", "Partner")
StockRecord = get_model("partner", "StockRecord")


class OrderCreator(OscarOrderCreator):
    _pending = None  # [(unsaved order line, basket line)] while place_order runs, else None

    def place_order(self, basket, *args, **kwargs):
        lines = list(basket.all_lines())
        load_line_products(lines)
        prefetch_related_objects([line.stockrecord for line in lines if line.stockrecord], "partner")
        prefetch_related_objects(lines, "attributes__option")
        self._pending = []
        try:
            order = super().place_order(basket, *args, **kwargs)
        finally:
            pending, self._pending = self._pending, None
        if pending:
            # Oscar's place_order no longer calls update_stock_records after its lines: these were never saved.
            raise RuntimeError("OrderCreator: order lines built but never written")
        return order

    def create_line_models(self, order, basket_line, extra_line_fields=None):
        if self._pending is None:  # called on its own, outside place_order: Oscar's row-at-a-time version
            return super().create_line_models(order, basket_line, extra_line_fields)
        order_line = self.build_line_model(order, basket_line, extra_line_fields)
        self._pending.append((order_line, basket_line))
        return order_line

    def build_line_model(self, order, basket_line, extra_line_fields=None):
        """The unsaved order line of ``basket_line``: the fields Oscar's ``create_line_models`` saves."""
        product = basket_line.product
        stockrecord = basket_line.stockrecord
        if not stockrecord:
            raise exceptions.UnableToPlaceOrder("Basket line #%d has no stockrecord" % basket_line.id)
        partner = stockrecord.partner
        line_data = {
            "order": order,
            "partner": partner,
            "partner_name": partner.name,
            "partner_sku": stockrecord.partner_sku,
            "stockrecord": stockrecord,
            "product": product,
            "title": product.get_title(),
            "upc": product.upc,
            "quantity": basket_line.quantity,
            "line_price_excl_tax": basket_line.line_price_excl_tax_incl_discounts,
            "line_price_incl_tax": basket_line.line_price_incl_tax_incl_discounts,
            "line_price_before_discounts_excl_tax": basket_line.line_price_excl_tax,
            "line_price_before_discounts_incl_tax": basket_line.line_price_incl_tax,
            "unit_price_incl_tax": basket_line.unit_price_incl_tax,
            "unit_price_excl_tax": basket_line.unit_price_excl_tax,
            "tax_code": basket_line.tax_code,
            "num_allocated": basket_line.quantity,
        }
        extra_line_fields = extra_line_fields or {}
        if hasattr(settings, "OSCAR_INITIAL_LINE_STATUS") and "status" not in extra_line_fields:
            extra_line_fields["status"] = settings.OSCAR_INITIAL_LINE_STATUS
        line_data.update(extra_line_fields)
        return Line(**line_data)

    def update_stock_records(self, line):
        if self._pending is None:
            return super().update_stock_records(line)
        if self._pending:
            # Oscar calls this once per basket line, right after creating the last order line: the first call
            # writes every line and allocates every line's stock; the others find nothing left to do.
            pending, self._pending = self._pending, []
            self.write_lines(pending)
            self.allocate_stock([basket_line for _, basket_line in pending])
        return None

    def write_lines(self, pending):
        """Insert the order lines, then their prices, attributes and discounts: one INSERT per table."""
        basket_lines = [basket_line for _, basket_line in pending]
        load_line_products(basket_lines)
        Line.objects.bulk_create([order_line for order_line, _ in pending])
        order = pending[0][0].order
        prices, attributes, discounts = [], [], []
        order_discounts = None
        for order_line, basket_line in pending:
            for price_incl_tax, price_excl_tax, quantity in basket_line.get_price_breakdown():
                prices.append(LinePrice(
                    order=order, line=order_line, quantity=quantity, price_incl_tax=price_incl_tax,
                    price_excl_tax=price_excl_tax, tax_code=basket_line.tax_code,
                ))
            for attr in basket_line.attributes.all():
                attributes.append(LineAttribute(line=order_line, option=attr.option, type=attr.option.code,
                                                value=attr.value))
            for discount in basket_line.discounts:
                if not discount.offer:
                    continue
                if order_discounts is None:
                    order_discounts = {}
                    for order_discount in OrderDiscount.objects.filter(order=order).order_by("pk"):
                        order_discounts.setdefault(order_discount.offer_id, order_discount)
                order_discount = order_discounts.get(discount.offer.id)
                if order_discount:  # as Oscar: no order discount for this offer, no line discount
                    discounts.append(OrderLineDiscount(
                        line=order_line, order_discount=order_discount, is_incl_tax=discount.incl_tax,
                        amount=discount.amount,
                    ))
        LinePrice.objects.bulk_create(prices)
        if attributes:
            LineAttribute.objects.bulk_create(attributes)
        if discounts:
            OrderLineDiscount.objects.bulk_create(discounts)
        for order_line, basket_line in pending:
            self.create_additional_line_models(order, order_line, basket_line)

    def allocate_stock(self, basket_lines):
        """Oscar's ``StockRecord.allocate`` for every line whose product tracks stock, in one UPDATE.

        Each record's ``num_allocated`` grows by its lines' quantities (as Oscar's unconditional
        ``num_allocated + n``); the stock records' in-memory ``num_allocated`` is re-read, their pre/post-save
        signals are sent as ``allocate`` sends them, and the low-stock and product alerts those signals update
        are updated for all records at once (shop/checkout/stocksignals.py). At placement the records are
        locked already (shop/checkout/stock.py, in id order), so this UPDATE waits for no one.
        """
        load_line_products(basket_lines)
        tracked = sorted(
            (line for line in basket_lines if line.product.get_product_class().track_stock),
            key=lambda line: line.stockrecord_id,
        )
        if not tracked:
            return
        wanted = defaultdict(int)
        for line in tracked:
            wanted[line.stockrecord_id] += line.quantity
        records = [line.stockrecord for line in tracked]
        for line, record in zip(tracked, records, strict=True):
            if record.product_id == line.product_id:
                record.product = line.product  # loaded already: the signals' receivers read it
        with stocksignals.bulk_allocation(records):
            StockRecord.objects.filter(pk__in=wanted).update(num_allocated=Coalesce(F("num_allocated"), 0) + Case(
                *[When(pk=pk, then=Value(quantity)) for pk, quantity in wanted.items()],
                output_field=IntegerField(),
            ))
            allocated = dict(StockRecord.objects.filter(pk__in=wanted).values_list("pk", "num_allocated"))
            for record in records:
                record.num_allocated = allocated[record.pk]
