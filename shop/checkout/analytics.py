"""Oscar's analytics of a placed order, in one statement for all its products.

Oscar's ``receive_order_placed`` (oscar.apps.analytics.receivers) adds each line's quantity to its product's
``ProductRecord.num_purchases`` with an UPDATE per line, and an INSERT for a product never recorded. This
receiver, connected in its place (CheckoutConfig.ready), writes the same counters with one upsert
(``INSERT ... ON CONFLICT (product_id) DO UPDATE``, PostgreSQL and SQLite alike): the same rows, and two
checkouts recording a new product at once both count (where Oscar's would log an IntegrityError).
The user's record is Oscar's own code.
"""

from collections import defaultdict

from django.db import connection
from oscar.core.loading import get_model

ProductRecord = get_model("analytics", "ProductRecord")


def receive_order_placed(sender, order, user, **kwargs):
    from oscar.apps.analytics import receivers

    if kwargs.get("raw", False):
        return
    record_purchases(order)
    if user and user.is_authenticated:
        receivers._record_user_order(user, order)


def record_purchases(order):
    bought = defaultdict(int)
    for product_id, quantity in order.lines.values_list("product_id", "quantity"):
        if product_id is not None:
            bought[product_id] += quantity
    if not bought:
        return
    meta, qn = ProductRecord._meta, connection.ops.quote_name
    columns = [meta.get_field(name).column for name in ("product", "num_views", "num_basket_additions",
                                                          "num_purchases", "score")]
    purchases = qn(meta.get_field("num_purchases").column)
    rows = sorted(bought.items())  # in product order: two upserts never wait on each other crosswise
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(map(qn, columns))}) "
        f"VALUES {', '.join(['(%s, 0, 0, %s, 0.0)'] * len(rows))} "
        f"ON CONFLICT ({qn(columns[0])}) DO UPDATE SET {purchases} = {qn(meta.db_table)}.{purchases} + "
        f"EXCLUDED.{purchases}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for row in rows for value in row])


def connect():
    """Put ``receive_order_placed`` in place of Oscar's (importing Oscar's module first, so that it connects
    now and never again)."""
    from django.apps import apps
    from oscar.apps.order.signals import order_placed

    if not apps.is_installed("oscar.apps.analytics"):
        return
    from oscar.apps.analytics import receivers

    if order_placed.disconnect(receivers.receive_order_placed):
        order_placed.connect(receive_order_placed, dispatch_uid="p6_receive_order_placed")
