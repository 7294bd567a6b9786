"""Order status follows the money (DESIGN "A sale, end to end" step 8), in Oscar's dashboard.

Paid, Refunded and Cancelled are set only by the payment services (shop.payments.services). Oscar's
dashboard offers every transition of OSCAR_ORDER_STATUS_PIPELINE, which the services need too, so the
narrowing happens here, not in the pipeline: through OSCAR_DYNAMIC_CLASS_LOADER (shop/loading.py) the
dashboard's order status form offers staff only the fulfilment steps the order's state allows, and the
event handler behind the order page, the order list's bulk action and the payment-event forms refuses
anything else with a message (a forged POST changes nothing). Cancelling a pending order is its own button
(the cancellation service, which cancels the intent at Stripe first); cancelling a paid one is a refund.
"""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from oscar.apps.dashboard.orders.forms import OrderStatusForm as OscarOrderStatusForm
from oscar.apps.order.processing import EventHandler as OscarEventHandler
from oscar.apps.payment.exceptions import PaymentError

#: The statuses staff may set by hand: fulfilment only.
FULFILMENT_STATUSES = ("Being processed", "Shipped")


def staff_statuses(order):
    """The statuses staff may move `order` to now: the fulfilment steps its pipeline allows."""
    return [status for status in order.available_statuses() if status in FULFILMENT_STATUSES]


class OrderStatusForm(OscarOrderStatusForm):
    def __init__(self, order, *args, **kwargs):
        super().__init__(order, *args, **kwargs)
        self.fields["new_status"].choices = [(status, _(status)) for status in staff_statuses(order)]
        self.fields["new_status"].error_messages["invalid_choice"] = gettext_lazy(
            "Only fulfilment steps can be set here. Paid, Refunded and Cancelled follow the money: use "
            "“Refund through Stripe” or “Cancel unpaid order”.")


class EventHandler(OscarEventHandler):
    def handle_order_status_change(self, order, new_status, note_msg=None):
        if new_status not in staff_statuses(order):
            raise PaymentError(_("“%(status)s” cannot be set by hand on order %(number)s: Paid, Refunded and "
                                 "Cancelled follow the money (refund through Stripe, or cancel an unpaid order "
                                 "with its own button).") % {"status": new_status, "number": order.number})
        return super().handle_order_status_change(order, new_status, note_msg=note_msg)

    def handle_payment_event(self, order, event_type, amount, lines=None, line_quantities=None, **kwargs):
        raise PaymentError(_("Payment events are recorded by the payment services from what Stripe says; "
                             "use “Refund through Stripe” to give money back."))
