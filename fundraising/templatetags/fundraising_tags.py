"""What a purchase gives, for the storefront's templates (estimates before payment, ledger figures after)."""

from decimal import Decimal

from django import template
from oscar.templatetags.currency_filters import currency as oscar_currency

from fundraising import estimates
from fundraising.money import quantize

register = template.Library()


@register.simple_tag
def product_donation(product):
    """``Estimate`` of one item of ``product``, or None (no rule in force, no price or no unit cost)."""
    try:
        return estimates.product_estimate(product)
    except (TypeError, ValueError):
        return None


@register.simple_tag
def basket_donation(basket, total=None, shipping=None):
    """``Estimate`` of the basket's donation (fee estimated on ``total`` when given: the order total, of which
    ``shipping`` is pass-through)."""
    try:
        return estimates.basket_estimate(basket, total=total, shipping=shipping)
    except (TypeError, ValueError):
        return None


@register.simple_tag
def order_donation(order):
    """The posted donation of ``order`` as ``(amount, currency)``, or None before payment."""
    return estimates.order_donations([order.pk]).get(order.pk)


@register.simple_tag
def order_donations(orders):
    """``{order_id: (amount, currency)}`` for a page of orders, in two queries."""
    return estimates.order_donations([order.pk for order in orders])


@register.simple_tag
def order_donation_detail(order):
    return estimates.order_donation_detail(order)


@register.filter
def lookup(mapping, key):
    return mapping.get(key) if mapping else None


@register.filter
def percent_of_bps(bps):
    """Basis points as the percentage staff read: 5000 -> "50", 1234 -> "12.34", 50 -> "0.5" (stored as bps)."""
    if bps is None or bps == "":
        return ""
    value = (Decimal(int(bps)) / 100).normalize()
    return format(value, "f")


@register.filter
def money(amount, currency):
    """One money format for staff pages: the amount quantized half-up to ``currency``'s minor unit, then Oscar's
    ``currency`` filter (so "$5.00", never "5.0000 USD"). Empty for no amount."""
    if amount is None or amount == "":
        return ""
    return oscar_currency(quantize(Decimal(amount), currency), currency)
