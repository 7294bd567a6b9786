"""`reconcile_payments` and `cancel_unpaid_orders` against localstripe: what Stripe knows about orders
still pending payment is applied through the same services, exactly once; when Stripe cannot be asked,
the commands fail loudly and change nothing.
"""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from oscar.core.loading import get_model

from shop.payments.gateway import CardDeclined, get_gateway
from shop.payments.models import ExcessPayment, PaymentAttempt
from tests.payments.conftest import place_order
from tests.payments.events import paid_at_stripe_only, record_attempt, shop_rows
from tests.stripe_peer import count_objects, free_port, request

Order = get_model("order", "Order")
OrderNote = get_model("order", "OrderNote")
PaymentEvent = get_model("order", "PaymentEvent")
Source = get_model("payment", "Source")
StockRecord = get_model("partner", "StockRecord")

TOTAL = Decimal("30.00")  # one black M T-shirt, free shipping, no tax
SKU = "P6-TEE-BLK-M"


@pytest.fixture
def shop_gateway(stripe_peer):
    return get_gateway()


def _run(command, *args):
    out, err = StringIO(), StringIO()
    call_command(command, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _reload(order):
    return Order.objects.get(pk=order.pk)


def _allocated(sku=SKU):
    return StockRecord.objects.get(partner_sku=sku).num_allocated or 0


def _open_attempt(gateway, order, number=1):
    """An attempt whose intent waits for a card (the fan left the payment page)."""
    intent = gateway.create_intent(amount=order.total_incl_tax, currency=order.currency,
                                   order_number=order.number, attempt=number)
    record_attempt(order, intent, number=number)
    return intent


def _intent_status(stripe_peer, intent_id):
    return request("GET", stripe_peer.url, f"/v1/payment_intents/{intent_id}")["status"]


def _placed_long_ago(order, minutes):
    Order.objects.filter(pk=order.pk).update(date_placed=timezone.now() - timedelta(minutes=minutes))
    return _reload(order)


def _assert_paid_once(order, intent_id):
    order = _reload(order)
    assert order.status == "Paid"
    assert list(Source.objects.filter(order=order).values_list("reference", "amount_debited", "amount_refunded")) == [
        (intent_id, TOTAL, Decimal("0.00"))]
    assert list(PaymentEvent.objects.filter(order=order).values_list("event_type__name", "amount")) == [
        ("Paid", TOTAL)]
    assert PaymentAttempt.objects.get(intent_id=intent_id).status == PaymentAttempt.SUCCEEDED


# --- reconcile_payments ---------------------------------------------------------------------------


def test_reconcile_captures_a_payment_whose_write_was_lost_exactly_once(placed_order, shop_gateway):
    # given an order paid at Stripe whose capture was never written (a crash between Stripe's success
    # and our write, and no webhook)
    intent = paid_at_stripe_only(shop_gateway, placed_order)
    assert _reload(placed_order).status == "Pending payment"

    # when reconcile_payments runs
    out, err = _run("reconcile_payments")

    # then the order is paid, once, for exactly its total
    assert out.splitlines() == [f"order {placed_order.number}: captured",
                                "reconciled: captured 1, cancelled 0, repaired 0, unchanged 0, errors 0"]
    assert err == ""
    _assert_paid_once(placed_order, intent.id)

    # when it runs again, then nothing changes
    before = shop_rows()
    out, _ = _run("reconcile_payments")
    assert out.splitlines() == ["reconciled: captured 0, cancelled 0, repaired 0, unchanged 1, errors 0"]
    assert shop_rows() == before


def test_reconcile_cancels_an_order_whose_intent_was_cancelled_at_stripe(client, p6_catalogue, shop_gateway,
                                                                         stripe_peer):
    # given an order whose only intent was cancelled at Stripe (e.g. from Stripe's dashboard)
    allocated_before = _allocated()
    order, _ = place_order(client)
    assert _allocated() == allocated_before + 1
    intent = _open_attempt(shop_gateway, order)
    shop_gateway.cancel_intent(intent.id)

    # when reconcile_payments runs
    out, err = _run("reconcile_payments")

    # then the order is cancelled and its stock allocation released; nothing was paid
    assert out.splitlines() == [f"order {order.number}: cancelled",
                                "reconciled: captured 0, cancelled 1, repaired 0, unchanged 0, errors 0"]
    order = _reload(order)
    assert order.status == "Cancelled"
    assert _allocated() == allocated_before
    assert list(order.lines.values_list("status", "num_allocated")) == [("Cancelled", 0)]
    assert PaymentAttempt.objects.get(intent_id=intent.id).status == PaymentAttempt.CANCELED
    assert Source.objects.count() == 0
    assert PaymentEvent.objects.count() == 0

    # when it runs again, then nothing changes
    before = shop_rows()
    _run("reconcile_payments")
    assert shop_rows() == before


def test_reconcile_leaves_an_order_whose_payment_is_still_open(placed_order, shop_gateway, stripe_peer):
    # given an order whose intent still waits for a card
    intent = _open_attempt(shop_gateway, placed_order)
    before = shop_rows()

    # when reconcile_payments runs, then nothing changes, here or at Stripe
    out, _ = _run("reconcile_payments")
    assert out.splitlines() == ["reconciled: captured 0, cancelled 0, repaired 0, unchanged 1, errors 0"]
    assert shop_rows() == before
    assert _intent_status(stripe_peer, intent.id) == "requires_payment_method"


def test_reconcile_with_stripe_unreachable_fails_and_changes_nothing(placed_order, shop_gateway, settings):
    # given an order paid at Stripe whose capture was never written, and Stripe unreachable
    paid_at_stripe_only(shop_gateway, placed_order)
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"
    before = shop_rows()

    # when reconcile_payments runs, then it fails (non-zero exit) and nothing changes
    err = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("reconcile_payments", stdout=StringIO(), stderr=err)
    assert str(failed.value) == "1 orders could not be reconciled; run again later"
    assert err.getvalue().startswith(f"order {placed_order.number}: Stripe could not be asked: Could not reach Stripe")
    assert shop_rows() == before


# --- cancel_unpaid_orders -------------------------------------------------------------------------


def test_cancel_unpaid_orders_cancels_old_ones_and_leaves_recent_ones(client, p6_catalogue, shop_gateway,
                                                                      stripe_peer):
    # given an order placed 31 minutes ago and one placed just now, both with an open payment attempt
    allocated_before = _allocated()
    old, _ = place_order(client)
    old_intent = _open_attempt(shop_gateway, old)
    old = _placed_long_ago(old, 31)
    recent, _ = place_order(client)
    recent_intent = _open_attempt(shop_gateway, recent)
    assert _allocated() == allocated_before + 2

    # when unpaid orders older than 30 minutes are cancelled
    out, err = _run("cancel_unpaid_orders", "--older-than", "30")

    # then the old order's intent is cancelled at Stripe, the order Cancelled, its stock released
    assert out.splitlines() == [f"order {old.number}: cancelled", "unpaid orders: cancelled 1, captured 0, skipped 0"]
    assert err == ""
    assert _intent_status(stripe_peer, old_intent.id) == "canceled"
    assert _reload(old).status == "Cancelled"
    assert list(old.lines.values_list("status", "num_allocated")) == [("Cancelled", 0)]
    assert PaymentAttempt.objects.get(intent_id=old_intent.id).status == PaymentAttempt.CANCELED
    assert list(OrderNote.objects.filter(order=old).values_list("message", flat=True)) == [
        "Cancelled: not paid in time; stock released."]
    assert _allocated() == allocated_before + 1

    # and the recent one is untouched, here and at Stripe
    assert _reload(recent).status == "Pending payment"
    assert list(recent.lines.values_list("num_allocated", flat=True)) == [1]
    assert _intent_status(stripe_peer, recent_intent.id) == "requires_payment_method"
    assert PaymentAttempt.objects.get(intent_id=recent_intent.id).status == PaymentAttempt.CREATED

    # when it runs again, then nothing changes
    before = shop_rows()
    _run("cancel_unpaid_orders", "--older-than", "30")
    assert shop_rows() == before


def test_cancel_unpaid_orders_also_cancels_the_intent_of_a_declined_attempt(placed_order, shop_gateway, stripe_peer):
    # given an old order whose only attempt was declined: its intent is still open at Stripe, and the
    # browser that holds its client secret could still confirm it with another card
    intent = _open_attempt(shop_gateway, placed_order)
    with pytest.raises(CardDeclined):
        shop_gateway.confirm_intent(intent.id, payment_method="pm_card_chargeCustomerFail")
    PaymentAttempt.objects.filter(intent_id=intent.id).update(status=PaymentAttempt.FAILED)
    order = _placed_long_ago(placed_order, 31)

    # when unpaid orders are cancelled
    out, _ = _run("cancel_unpaid_orders", "--older-than", "30")

    # then the order is cancelled and so is its intent at Stripe
    assert out.splitlines()[0] == f"order {order.number}: cancelled"
    assert _reload(order).status == "Cancelled"
    assert _intent_status(stripe_peer, intent.id) == "canceled"
    assert PaymentAttempt.objects.get(intent_id=intent.id).status == PaymentAttempt.CANCELED


def test_cancel_unpaid_orders_captures_a_declined_attempt_that_was_paid_after_all(placed_order, shop_gateway,
                                                                                  stripe_peer):
    # given an old order whose attempt the shop saw declined, but whose intent was then confirmed with
    # another card from the browser (real Stripe allows it; localstripe cannot retry a declined intent,
    # so the intent is paid first and the attempt marked failed afterwards)
    intent = paid_at_stripe_only(shop_gateway, placed_order)
    PaymentAttempt.objects.filter(intent_id=intent.id).update(status=PaymentAttempt.FAILED,
                                                              last_error="Your card was declined.")
    order = _placed_long_ago(placed_order, 31)

    # when unpaid orders are cancelled, then it is captured, not cancelled
    out, _ = _run("cancel_unpaid_orders", "--older-than", "30")
    assert out.splitlines()[0] == f"order {order.number}: captured"
    _assert_paid_once(order, intent.id)


def test_cancel_unpaid_orders_cancels_an_order_that_never_reached_stripe(client, p6_catalogue, stripe_peer):
    # given an order placed an hour ago whose fan never tried to pay (no attempt, no intent)
    allocated_before = _allocated()
    order, _ = place_order(client)
    order = _placed_long_ago(order, 60)

    # when unpaid orders are cancelled, then it is, and its stock released
    out, _ = _run("cancel_unpaid_orders", "--older-than", "30")
    assert out.splitlines()[0] == f"order {order.number}: cancelled"
    assert _reload(order).status == "Cancelled"
    assert _allocated() == allocated_before


def test_cancel_unpaid_orders_captures_an_order_whose_payment_succeeded(placed_order, shop_gateway, stripe_peer):
    # given an old order whose payment succeeded at Stripe but was never written
    intent = paid_at_stripe_only(shop_gateway, placed_order)
    order = _placed_long_ago(placed_order, 31)
    allocated = _allocated()

    # when unpaid orders are cancelled
    out, _ = _run("cancel_unpaid_orders", "--older-than", "30")

    # then it is captured instead: paid once, stock still allocated to it, the intent untouched
    assert out.splitlines() == [f"order {order.number}: captured", "unpaid orders: cancelled 0, captured 1, skipped 0"]
    _assert_paid_once(order, intent.id)
    assert _allocated() == allocated
    assert _intent_status(stripe_peer, intent.id) == "succeeded"


@pytest.mark.parametrize("minutes", ["0", "-5"])
def test_cancel_unpaid_orders_refuses_a_cutoff_below_one_minute(placed_order, shop_gateway, minutes):
    # given an unpaid order with an open attempt
    _open_attempt(shop_gateway, placed_order)
    before = shop_rows()

    # when asked to cancel orders older than 0 (or fewer) minutes, then it refuses and changes nothing
    with pytest.raises(CommandError) as refused:
        call_command("cancel_unpaid_orders", "--older-than", minutes, stdout=StringIO(), stderr=StringIO())
    assert str(refused.value) == "--older-than must be at least 1 minute"
    assert shop_rows() == before


def test_cancel_unpaid_orders_with_stripe_unreachable_fails_and_changes_nothing(placed_order, shop_gateway,
                                                                                 stripe_peer, settings):
    # given an old unpaid order with an open attempt, and Stripe unreachable
    intent = _open_attempt(shop_gateway, placed_order)
    _placed_long_ago(placed_order, 31)
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"
    before = shop_rows()

    # when unpaid orders are cancelled, then it fails and the order stays pending with its stock
    with pytest.raises(CommandError) as failed:
        call_command("cancel_unpaid_orders", "--older-than", "30", stdout=StringIO(), stderr=StringIO())
    assert str(failed.value) == "1 orders could not be cancelled; they stay pending"
    assert shop_rows() == before
    assert _intent_status(stripe_peer, intent.id) == "requires_payment_method"


def test_payment_of_the_wrong_amount_is_refunded_as_excess_and_the_order_cancelled(
        placed_order, shop_gateway, stripe_peer, django_capture_on_commit_callbacks):
    # given an old order whose intent took 25.00 at Stripe for a 30.00 order
    intent = paid_at_stripe_only(shop_gateway, placed_order, amount=Decimal("25.00"))
    order = _placed_long_ago(placed_order, 31)
    allocated = _allocated()

    # when reconcile_payments and cancel_unpaid_orders run, twice each (as from cron)
    outs = []
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            outs.append(_run("reconcile_payments")[0])
        outs.append(_run("cancel_unpaid_orders", "--older-than", "30")[0])

    # then the 25.00 is never booked: it is an excess payment, refunded at Stripe once, and the unpaid order
    # is cancelled with its stock released; the second round finds nothing to do
    assert outs[1].splitlines() == [f"order {order.number}: cancelled", "unpaid orders: cancelled 1, captured 0, skipped 0"]
    assert outs[3].splitlines() == ["unpaid orders: cancelled 0, captured 0, skipped 0"]
    assert _reload(order).status == "Cancelled"
    assert Source.objects.count() == 0
    assert PaymentEvent.objects.count() == 0
    assert _allocated() == allocated - 1
    excess = ExcessPayment.objects.get()
    assert (excess.intent_id, excess.amount, excess.status, excess.refunded_amount) == (
        intent.id, Decimal("25.00"), "refunded", Decimal("25.00"))
    assert count_objects(stripe_peer.url, "refunds") == 1
    assert sorted(OrderNote.objects.filter(order=order).values_list("message", flat=True)) == [
        "Cancelled: not paid in time; stock released.",
        f"Stripe payment {intent.id} of 25.00 USD is not this order's payment (captured 25.00 USD but the order "
        "total is 30.00 USD): recorded as an excess payment and refunded through Stripe."]
