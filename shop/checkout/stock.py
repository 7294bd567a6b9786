"""The last units (DESIGN "Lock, check, write"): stock is checked under lock, inside the order's transaction.

Oscar checks availability when the basket is shown and the preview posted, without a lock, and then
allocates at order placement with an unconditional ``num_allocated = num_allocated + n``: two fans
buying the last unit at once both pass the check and the stock record ends up over-allocated.
`lock_stock_for_basket` runs inside the transaction that writes the order, before Oscar's
OrderCreator: it locks the basket's stock records (``SELECT ... FOR UPDATE``, always in id order so two
baskets never deadlock), re-checks the net stock against what the basket wants and raises
`UnableToPlaceOrder` with an out-of-stock message, which rolls the whole order back. The locks are held
until the order commits, so the next checkout sees this one's allocation.
"""

from collections import defaultdict

from django.db import transaction
from django.utils.translation import gettext as _
from oscar.core.loading import get_class, get_model

from shop.partner.strategy import load_line_products

StockRecord = get_model("partner", "StockRecord")
UnableToPlaceOrder = get_class("order.exceptions", "UnableToPlaceOrder")


class OutOfStock(UnableToPlaceOrder):
    """Not enough net stock for a basket line at order placement. `str()` is fan-readable."""


def lock_stock_for_basket(basket):
    """Lock the basket's stock records and check that each has the net stock the basket wants.

    Must run inside `transaction.atomic()` (the order's). Raises OutOfStock, naming the first product
    short of stock; nothing is written here.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("lock_stock_for_basket must run inside the order's transaction")
    wanted = defaultdict(int)
    titles, tracked = {}, {}
    lines = list(basket.all_lines())
    load_line_products(lines)  # titles and product classes of all lines in constant queries
    for line in lines:
        if line.stockrecord_id:
            wanted[line.stockrecord_id] += line.quantity
            titles[line.stockrecord_id] = line.product.get_title()
            # What StockRecord.can_track_allocations reads, from the line's product (loaded) rather than the
            # record's (a query per record).
            tracked[line.stockrecord_id] = line.product.get_product_class().track_stock
    if not wanted:
        return
    # Only the stock record rows (no joins, so no product rows are locked), in id order.
    records = list(StockRecord.objects.select_for_update().filter(pk__in=wanted).order_by("pk"))
    for record in records:
        if not tracked[record.pk]:
            continue
        left = record.net_stock_level
        if wanted[record.pk] > left:
            if left <= 0:
                message = _('Sorry, "%(title)s" is out of stock now: someone bought the last units just before '
                            'you. Please remove it from your basket. No payment was taken.')
            else:
                message = _('Sorry, "%(title)s" is out of stock for the quantity you chose: only %(left)d left. '
                            'Please update your basket. No payment was taken.')
            raise OutOfStock(message % {"title": titles[record.pk], "left": left})
