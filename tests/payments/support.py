"""Helpers shared by the payment tests of several services (paying, capture, cancelling, reconciling)."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from oscar.core.loading import get_model

from fundraising.models import LedgerTransaction
from fundraising.verification import ledger_violations
from shop.payments.models import ExcessPayment, PaymentAttempt
from tests.payments.events import record_attempt
from tests.stripe_peer import request

Order = get_model("order", "Order")
PaymentEvent = get_model("order", "PaymentEvent")
Source = get_model("payment", "Source")
StockRecord = get_model("partner", "StockRecord")

TOTAL = Decimal("30.00")  # one black M T-shirt, free shipping, no tax
SKU = "P6-TEE-BLK-M"
#: A fan's shipping address, as the checkout's placement path takes it.
ADDRESS = {"first_name": "Ana", "last_name": "Fan", "line1": "1 Main St", "line4": "Boston", "state": "MA",
           "postcode": "02110", "country": "US"}


# --- the pay page -------------------------------------------------------------------------------------


def post_pay(client, order, lang="en", remote_addr="127.0.0.1", **data):
    """POST to the order's payment page as its script does (a JSON answer), in `lang`, from `remote_addr`."""
    return client.post(reverse("checkout:pay", kwargs={"order_number": order.number}), data,
                       HTTP_ACCEPT="application/json", HTTP_ACCEPT_LANGUAGE=lang, REMOTE_ADDR=remote_addr)


def written(order):
    """Everything paying can write about an order."""
    return (
        Source.objects.filter(order=order).count(),
        PaymentEvent.objects.filter(order=order).count(),
        PaymentAttempt.objects.filter(order=order).count(),
        Order.objects.get(pk=order.pk).status,
    )


def stripe_charges(fake, order_number, status="succeeded"):
    """The charges of the order at the Stripe-shaped fake, in `status`."""
    return [c for c in fake.objects("charge") if c["status"] == status and
            c["metadata"].get("order_number") == str(order_number)]


def assert_charged_once(fake, order):
    """Exactly one succeeded charge at Stripe, and it is the booked one; one sale; a clean ledger."""
    order.refresh_from_db()
    [charge] = stripe_charges(fake, order.number)
    booked = PaymentAttempt.objects.get(order=order, booked=True)
    assert charge["payment_intent"] == booked.intent_id
    assert (order.status, Source.objects.get(order=order).amount_debited) == ("Paid", TOTAL)
    assert ExcessPayment.objects.filter(order=order).count() == 0
    assert LedgerTransaction.objects.filter(order=order, kind="sale").count() == 1
    assert list(ledger_violations()) == []


# --- orders left unpaid, the commands that look after them --------------------------------------------


def run_command(command, *args):
    out, err = StringIO(), StringIO()
    call_command(command, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def reload(order):
    return Order.objects.get(pk=order.pk)


def allocated_units(sku=SKU):
    return StockRecord.objects.get(partner_sku=sku).num_allocated or 0


def open_attempt(gateway, order, number=1):
    """An attempt whose intent waits for a card (the fan left the payment page)."""
    intent = gateway.create_intent(amount=order.total_incl_tax, currency=order.currency,
                                   order_number=order.number, attempt=number)
    record_attempt(order, intent, number=number)
    return intent


def intent_status(stripe_peer, intent_id):
    return request("GET", stripe_peer.url, f"/v1/payment_intents/{intent_id}")["status"]


def placed_long_ago(order, minutes):
    Order.objects.filter(pk=order.pk).update(date_placed=timezone.now() - timedelta(minutes=minutes))
    return reload(order)


def assert_paid_once(order, intent_id):
    order = reload(order)
    assert order.status == "Paid"
    assert list(Source.objects.filter(order=order).values_list("reference", "amount_debited", "amount_refunded")) == [
        (intent_id, TOTAL, Decimal("0.00"))]
    assert list(PaymentEvent.objects.filter(order=order).values_list("event_type__name", "amount")) == [
        ("Paid", TOTAL)]
    assert PaymentAttempt.objects.get(intent_id=intent_id).status == PaymentAttempt.SUCCEEDED
