"""Pricing strategy of the P6 shop: one currency, prices as listed (US sales tax is out of scope).

Oscar's default prices a parent product by its first child, which for the T-shirt is whichever size was
created last; a fan expects the price the garment starts from. So a parent shows the lowest price among
its children that can be bought, and all children when none can.
"""

from decimal import Decimal

from oscar.apps.partner import strategy
from oscar.apps.partner.prices import FixedPrice, Unavailable as UnavailablePrice

from catalog.selectors import buyable_variants, cheapest


class Selector:
    def strategy(self, request=None, user=None, **kwargs):
        return P6Strategy(request)


class LowestChildPrice:
    def parent_pricing_policy(self, product, children_stock):
        records = [record for _, record in children_stock if record is not None and record.price is not None]
        if not records:
            return UnavailablePrice()
        record = cheapest(buyable_variants(records))
        return FixedPrice(currency=record.price_currency, excl_tax=record.price, tax=Decimal("0.00"))


class P6Strategy(
    strategy.UseFirstStockRecord, strategy.StockRequired, LowestChildPrice, strategy.NoTax, strategy.Structured
):
    """Oscar's Default strategy with the parent priced from its cheapest buyable child."""
