"""The order-placed email of an order that waits for its money, with the way back to the payment page.

Oscar sends its order-placed email from the checkout before the redirect; here the order is placed unpaid,
so the same message (Oscar's ORDER_PLACED communication, our templates) is sent with `pay_path`: the
templates then say the order is not paid yet and carry a "Complete payment" link. The confirmation (the same
templates without `pay_path`) is sent once the money is in (shop.payments.services.send_paid_email).
"""

import logging

from django.contrib.sites.models import Site
from oscar.core.loading import get_class

from shop.checkout import orders

logger = logging.getLogger("shop.checkout")

OrderDispatcher = get_class("order.utils", "OrderDispatcher")


def send_pending_order_email(*, order, request=None):
    """Email the fan that `order` is placed and waits for payment, with the link to pay it.

    Never raises: the order is already committed, and a mail outage must not turn a placed order into a
    checkout error (the fan is on their way to the payment page anyway)."""
    try:
        site = Site.objects.get_current(request)
        ctx = {
            "user": order.user,
            "order": order,
            "lines": order.lines.all(),
            "pay_path": orders.email_pay_path(order),
            "status_path": orders.status_path(order),
            "estimate": orders.expected_donation(order),
        }
        if request is not None:
            ctx["request"] = request
        # Oscar's templates test the deprecated status_url before using status_path.
        ctx["status_url"] = "http://%s%s" % (site.domain, ctx["status_path"])
        OrderDispatcher(logger=logger).send_order_placed_email_for_user(order, ctx)
    except Exception:  # noqa: BLE001 — see docstring
        logger.exception("order %s: order-placed email not sent", order.number)
