"""Pricing strategy of the P6 shop: one currency, prices as listed (US sales tax is out of scope).

Oscar's default prices a parent product by its first child, which for the T-shirt is whichever size was
created last; a fan expects the price the garment starts from. So a parent shows the lowest price among
its children that can be bought, and all children when none can.
"""

from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from oscar.apps.partner import strategy
from oscar.apps.partner.availability import StockRequired as StockRequiredAvailability
from oscar.apps.partner.prices import FixedPrice, Unavailable as UnavailablePrice
from oscar.core.loading import get_model

from catalog.selectors import buyable_variants, cheapest

Product = get_model("catalogue", "Product")
ProductClass = get_model("catalogue", "ProductClass")


class Selector:
    def strategy(self, request=None, user=None, **kwargs):
        return P6Strategy(request)


#: At or below this many units a page says "Only N left"; above it, "In stock". The page cache
#: (shop/pagecache) keys pages on the stock records at or below it, so a sale far from the last units
#: leaves every cached page valid.
LOW_STOCK = 5


class FewLeftAvailability(StockRequiredAvailability):
    """Oscar's "In stock (412 available)" changes with every sale and tells competitors the exact stock; a
    fan needs to know whether it is in stock and whether to hurry."""

    @property
    def message(self):
        if self.num_available > LOW_STOCK:
            return _("In stock")
        if self.num_available > 0:
            return _("Only %(count)d left") % {"count": self.num_available}
        return _("Unavailable")


class FewLeft:
    def availability_policy(self, product, stockrecord):
        policy = super().availability_policy(product, stockrecord)
        if isinstance(policy, StockRequiredAvailability):
            return FewLeftAvailability(policy.num_available)
        return policy


class LowestChildPrice:
    def parent_pricing_policy(self, product, children_stock):
        records = [record for _, record in children_stock if record is not None and record.price is not None]
        if not records:
            return UnavailablePrice()
        record = cheapest(buyable_variants(records))
        return FixedPrice(currency=record.price_currency, excl_tax=record.price, tax=Decimal("0.00"))


class LineStockRecord:
    """A basket line is priced from its own stock record, and its product's class is loaded for all the basket's
    lines at once.

    Oscar's ``Base.fetch_for_line`` ignores the stock record the basket line hands it and looks the product's
    first one up again, and each line's availability reads the product's class through the variant's parent:
    three queries per line whenever a basket is priced (basket page, checkout, placement). The line's stock
    record is the one ``Basket.add_product`` chose with this same strategy, so the price is the same.
    """

    def fetch_for_line(self, line, stockrecord=None):
        lines = _evaluated_basket_lines(line)
        load_line_products(lines if any(other is line for other in lines) else [line])
        return self.fetch_for_product(line.product, stockrecord or line.stockrecord)


def _evaluated_basket_lines(line):
    """The line's basket's lines when Oscar's ``Basket.all_lines`` already holds them in memory, else []."""
    if not line._meta.get_field("basket").is_cached(line):
        return []
    cached = getattr(line.basket, "_lines", None)  # Basket.all_lines' cached queryset
    return getattr(cached, "_result_cache", None) or []


def load_line_products(lines):
    """Load the parents and product classes of the lines' products, one query each at most (none when they are
    loaded already), so that ``get_title()`` and ``get_product_class()`` cost no query per line."""
    products = [line.product for line in lines if line.product_id]
    parent_field = Product._meta.get_field("parent")
    class_field = Product._meta.get_field("product_class")
    missing = {p.parent_id for p in products if p.parent_id and not parent_field.is_cached(p)}
    if missing:
        parents = Product.objects.select_related("product_class").in_bulk(missing)
        for product in products:
            if product.parent_id in parents and not parent_field.is_cached(product):
                product.parent = parents[product.parent_id]
    owners = [p.parent if p.parent_id else p for p in products]
    missing = {p.product_class_id for p in owners if p.product_class_id and not class_field.is_cached(p)}
    if missing:
        classes = ProductClass.objects.in_bulk(missing)
        for owner in owners:
            if owner.product_class_id in classes and not class_field.is_cached(owner):
                owner.product_class = classes[owner.product_class_id]


class P6Strategy(
    LineStockRecord, FewLeft,
    strategy.UseFirstStockRecord, strategy.StockRequired, LowestChildPrice, strategy.NoTax, strategy.Structured
):
    """Oscar's Default strategy with the parent priced from its cheapest buyable child."""

