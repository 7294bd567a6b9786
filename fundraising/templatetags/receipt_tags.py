"""A paid order's receipt code and its address in the public ledger (fundraising.chain)."""

from urllib.parse import urlencode

from django import template
from django.urls import reverse

from fundraising.chain import receipt_code

register = template.Library()


@register.filter
def receipt(order):
    """The order's receipt code (keyed with the server's secret; not its number)."""
    return receipt_code(order.number)


@register.filter
def receipt_path(order):
    """The public ledger filtered to the order's entries."""
    return f"{reverse('fundraising:ledger')}?{urlencode({'receipt': receipt_code(order.number)})}"
