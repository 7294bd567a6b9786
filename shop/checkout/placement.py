"""Placing an order outside the checkout views, through the same code as the storefront.

`place_pending_order` is what the checkout's "Place order" does (Oscar's OrderCreator in *Pending
payment*, stock allocated, the donation snapshot in the same transaction); `simulate_sales` and the
benchmarks use it with a basket built in code.
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


def place_pending_order(*, basket, email, address, user=None, shipping_method=None):
    """Place `basket` as an order in Pending payment, as the checkout does; returns the order.

    `address` is a dict of ShippingAddress fields (country as an ISO code). Raises ValueError when the
    basket is empty, and OutOfStock (an UnableToPlaceOrder) when a line's net stock is short (checked
    under lock, shop/checkout/stock.py). The order, its lines, the stock allocation and the donation
    snapshot are written in one transaction; the basket is submitted.
    """
    if basket.is_empty:
        raise ValueError("cannot place an order for an empty basket")
    shipping_method = shipping_method or Free()
    shipping_charge = shipping_method.calculate(basket)
    total = OrderTotalCalculator().calculate(basket, shipping_charge)
    fields = dict(address)
    fields["country"] = Country.objects.get(iso_3166_1_a2=fields.pop("country"))
    with transaction.atomic():
        lock_stock_for_basket(basket)  # raises OutOfStock (nothing written) when the last units are gone
        shipping_address = ShippingAddress.objects.create(**fields)
        order = OrderCreator().place_order(
            basket=basket, total=total, shipping_method=shipping_method, shipping_charge=shipping_charge,
            user=user, shipping_address=shipping_address,
            order_number=OrderNumberGenerator().order_number(basket), status=payments.PENDING,
            guest_email=email if user is None else "",
        )
        fundraising.snapshot_order(order=order)
        basket.submit()
    return order
