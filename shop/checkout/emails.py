"""The order-placed email of an order that waits for its money, with the way back to the payment page.

Oscar sends its order-placed email from the checkout before the redirect; here the order is placed unpaid,
so the same message (Oscar's ORDER_PLACED communication, our templates) is sent with `pay_path`: the
templates then say the order is not paid yet and carry a "Complete payment" link. The confirmation (the same
templates without `pay_path`) is sent once the money is in (shop.payments.services.send_paid_email).
Both are owed through the outbox (shop.jobs.outbox) and sent by a task, never inside the fan's request.
"""

import logging

from django.contrib.sites.models import Site
from oscar.core.loading import get_class, get_model

from shop.checkout import orders
from shop.jobs import outbox
from shop.jobs.models import OutgoingEmail

logger = logging.getLogger("shop.checkout")

OrderDispatcher = get_class("order.utils", "OrderDispatcher")
Order = get_model("order", "Order")


def owe_pending_order_email(*, order):
    """Owe the fan the order-placed email of `order` (sent after the commit, off the request)."""
    return outbox.owe(kind=OutgoingEmail.PLACED, object_pk=order.pk, key=f"placed:{order.number}")


def send_pending_order_email(*, order_pk):
    """Email the fan that the order is placed and waits for payment, with the link to pay it. Raises
    when it could not be sent (the outbox tries again)."""
    order = Order.objects.get(pk=order_pk)
    site = Site.objects.get_current()
    ctx = {
        "user": order.user,
        "order": order,
        "lines": order.lines.all(),
        "pay_path": orders.email_pay_path(order),
        "status_path": orders.status_path(order),
        "estimate": orders.expected_donation(order),
    }
    # Oscar's templates test the deprecated status_url before using status_path.
    ctx["status_url"] = "http://%s%s" % (site.domain, ctx["status_path"])
    OrderDispatcher(logger=logger).send_order_placed_email_for_user(order, ctx)  # raises when not sent
