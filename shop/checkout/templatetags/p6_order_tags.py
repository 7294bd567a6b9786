"""An order's payment state for the fan's pages and emails (see shop/checkout/orders.py)."""

from django import template

from shop.checkout import orders

register = template.Library()


@register.filter
def order_status_label(status):
    """The fan's translated words for an order status."""
    return orders.status_label(status)


@register.filter
def awaiting_payment(order):
    return orders.is_awaiting_payment(order)


@register.simple_tag
def order_pay_path(order):
    """The payment page of the order (a guest order's with its verification hash)."""
    return orders.pay_path(order)


@register.simple_tag
def order_expected_donation(order):
    """The ``Estimate`` of what the unpaid order will give, or None."""
    return orders.expected_donation(order)
