from django import template

from shop.payments import selectors

register = template.Library()


@register.simple_tag
def order_money(order):
    """`{% order_money order as money %}`: the order's booked payment, refunds, excess payments, disputes."""
    return selectors.order_money(order)
