"""The one order-placement path: the storefront's "Place order", the API's checkout and `simulate_sales`.

`place_order` locks and re-checks the basket's stock, lets Oscar write the order (its OrderCreator, in
*Pending payment*, stock allocated) and takes the donation snapshot, all in one transaction: there is never
an order without its snapshot, nor one placed on stock another checkout took. The storefront and the API
hand it Oscar's own `OrderPlacementMixin.place_order`; `place_pending_order` (simulate_sales, the
benchmarks) hands it OrderCreator with a basket built in code.
"""

from django.db import transaction
from oscar.apps.shipping.methods import Free
from oscar.core.loading import get_class, get_model

from fundraising import services as fundraising
from shop.checkout.stock import lock_stock_for_basket
from shop.payments import services as payments

Basket = get_model("basket", "Basket")
Country = get_model("address", "Country")
ShippingAddress = get_model("order", "ShippingAddress")
OrderCreator = get_class("order.utils", "OrderCreator")
OrderNumberGenerator = get_class("order.utils", "OrderNumberGenerator")
OrderTotalCalculator = get_class("checkout.calculators", "OrderTotalCalculator")
Selector = get_class("partner.strategy", "Selector")


def build_basket(*, items, owner=None):
    """A basket holding [(product, quantity), ...], priced by the shop's strategy."""
    basket = Basket.objects.create(owner=owner)
    basket.strategy = Selector().strategy()
    for product, quantity in items:
        basket.add_product(product, quantity)
    basket.reset_offer_applications()
    return basket


def place_order(*, basket, write_order):
    """Lock the basket's stock, call `write_order()` (which writes the order through Oscar's OrderCreator
    and returns it) and take the order's donation snapshot, in one transaction; returns the order.

    Raises OutOfStock (an UnableToPlaceOrder) when a line's net stock is short, checked under lock
    (shop/checkout/stock.py); then nothing is written.
    """
    with transaction.atomic():
        lock_stock_for_basket(basket)
        order = write_order()
        fundraising.snapshot_order(order=order)
    return order


def place_pending_order(*, basket, email, address, user=None, shipping_method=None):
    """Place `basket` as an order in Pending payment, as the checkout does; returns the order.

    `address` is a dict of ShippingAddress fields (country as an ISO code). Raises ValueError when the
    basket is empty, and OutOfStock (an UnableToPlaceOrder) when a line's net stock is short (checked
    under lock, shop/checkout/stock.py). The order, its lines, the stock allocation and the donation
    snapshot are written in one transaction (`place_order`); the basket is submitted.
    """
    # The lines, loaded once for all that follows (Basket.is_empty alone would count them with a query).
    if not list(basket.all_lines()):
        raise ValueError("cannot place an order for an empty basket")
    shipping_method = shipping_method or Free()
    shipping_charge = shipping_method.calculate(basket)
    total = OrderTotalCalculator().calculate(basket, shipping_charge)
    fields = dict(address)
    fields["country"] = Country.objects.get(iso_3166_1_a2=fields.pop("country"))

    def write_order():
        order = OrderCreator().place_order(
            basket=basket, total=total, shipping_method=shipping_method, shipping_charge=shipping_charge,
            user=user, shipping_address=ShippingAddress.objects.create(**fields),
            order_number=OrderNumberGenerator().order_number(basket), status=payments.PENDING,
            guest_email=email if user is None else "",
        )
        basket.submit()
        return order

    return place_order(basket=basket, write_order=write_order)
