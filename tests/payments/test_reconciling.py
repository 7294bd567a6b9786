"""What Stripe knows, applied to orders by `reconcile_payments` (shop/payments/services/reconciling.py), against
localstripe: a payment whose write was lost is captured once, an intent cancelled at Stripe cancels its order,
an open one is left; when Stripe cannot be asked, the command fails loudly and changes nothing. A payment of the
wrong amount is refunded as an excess payment; a refunded excess payment whose refund later failed is refunded
again (against the Stripe-shaped fake).
"""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from oscar.core.loading import get_model

from shop.checkout.placement import build_basket, place_pending_order
from shop.payments import services
from shop.payments.gateway import get_gateway
from shop.payments.models import ExcessPayment, PaymentAttempt
from tests.markers import Sink
from tests.payments.conftest import place_order
from tests.payments.events import paid_at_stripe_only, record_attempt, shop_rows, signed_post
from tests.payments.support import (
    ADDRESS,
    SKU,
    allocated_units,
    assert_paid_once,
    intent_status,
    open_attempt,
    placed_long_ago,
    reload,
    run_command,
)
from tests.stripe_peer import count_objects, free_port

OrderNote = get_model("order", "OrderNote")
PaymentEvent = get_model("order", "PaymentEvent")
Source = get_model("payment", "Source")
StockRecord = get_model("partner", "StockRecord")


def test_reconcile_captures_a_payment_whose_write_was_lost_exactly_once(placed_order, shop_gateway):
    # given an order paid at Stripe whose capture was never written (a crash between Stripe's success
    # and our write, and no webhook)
    intent = paid_at_stripe_only(shop_gateway, placed_order)
    assert reload(placed_order).status == "Pending payment"

    # when reconcile_payments runs
    out, err = run_command("reconcile_payments")

    # then the order is paid, once, for exactly its total
    assert out.splitlines() == [f"order {placed_order.number}: captured",
                                "reconciled: captured 1, cancelled 0, repaired 0, unchanged 0, errors 0"]
    assert err == ""
    assert_paid_once(placed_order, intent.id)

    # when it runs again, then nothing changes
    before = shop_rows()
    out, _ = run_command("reconcile_payments")
    assert out.splitlines() == ["reconciled: captured 0, cancelled 0, repaired 0, unchanged 1, errors 0"]
    assert shop_rows() == before


def test_reconcile_cancels_an_order_whose_intent_was_cancelled_at_stripe(client, p6_catalogue, shop_gateway,
                                                                         stripe_peer):
    # given an order whose only intent was cancelled at Stripe (e.g. from Stripe's dashboard)
    allocated_before = allocated_units()
    order, _ = place_order(client)
    assert allocated_units() == allocated_before + 1
    intent = open_attempt(shop_gateway, order)
    shop_gateway.cancel_intent(intent.id)

    # when reconcile_payments runs
    out, err = run_command("reconcile_payments")

    # then the order is cancelled and its stock allocation released; nothing was paid
    assert out.splitlines() == [f"order {order.number}: cancelled",
                                "reconciled: captured 0, cancelled 1, repaired 0, unchanged 0, errors 0"]
    order = reload(order)
    assert order.status == "Cancelled"
    assert allocated_units() == allocated_before
    assert list(order.lines.values_list("status", "num_allocated")) == [("Cancelled", 0)]
    assert PaymentAttempt.objects.get(intent_id=intent.id).status == PaymentAttempt.CANCELED
    assert Source.objects.count() == 0
    assert PaymentEvent.objects.count() == 0

    # when it runs again, then nothing changes
    before = shop_rows()
    run_command("reconcile_payments")
    assert shop_rows() == before


def test_reconcile_leaves_an_order_whose_payment_is_still_open(placed_order, shop_gateway, stripe_peer):
    # given an order whose intent still waits for a card
    intent = open_attempt(shop_gateway, placed_order)
    before = shop_rows()

    # when reconcile_payments runs, then nothing changes, here or at Stripe
    out, _ = run_command("reconcile_payments")
    assert out.splitlines() == ["reconciled: captured 0, cancelled 0, repaired 0, unchanged 1, errors 0"]
    assert shop_rows() == before
    assert intent_status(stripe_peer, intent.id) == "requires_payment_method"


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


# --- excess payments ----------------------------------------------------------------------------------


def test_payment_of_the_wrong_amount_is_refunded_as_excess_and_the_order_cancelled(
        placed_order, shop_gateway, stripe_peer, django_capture_on_commit_callbacks):
    # given an old order whose intent took 25.00 at Stripe for a 30.00 order
    intent = paid_at_stripe_only(shop_gateway, placed_order, amount=Decimal("25.00"))
    order = placed_long_ago(placed_order, 31)
    allocated = allocated_units()

    # when reconcile_payments and cancel_unpaid_orders run, twice each (as from cron)
    outs = []
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            outs.append(run_command("reconcile_payments")[0])
        outs.append(run_command("cancel_unpaid_orders", "--older-than", "30")[0])

    # then the 25.00 is never booked: it is an excess payment, refunded at Stripe once, and the unpaid order
    # is cancelled with its stock released; the second round finds nothing to do
    assert outs[1].splitlines() == [f"order {order.number}: cancelled",
                                    "unpaid orders: cancelled 1, captured 0, skipped 0"]
    assert outs[3].splitlines() == ["unpaid orders: cancelled 0, captured 0, skipped 0"]
    assert reload(order).status == "Cancelled"
    assert Source.objects.count() == 0
    assert PaymentEvent.objects.count() == 0
    assert allocated_units() == allocated - 1
    excess = ExcessPayment.objects.get()
    assert (excess.intent_id, excess.amount, excess.status, excess.refunded_amount) == (
        intent.id, Decimal("25.00"), "refunded", Decimal("25.00"))
    assert count_objects(stripe_peer.url, "refunds") == 1
    assert sorted(OrderNote.objects.filter(order=order).values_list("message", flat=True)) == [
        "Cancelled: not paid in time; stock released.",
        f"Stripe payment {intent.id} of 25.00 USD is not this order's payment (captured 25.00 USD but the order "
        "total is 30.00 USD): recorded as an excess payment and refunded through Stripe."]


def test_reconcile_revisits_a_refunded_excess_payment_of_a_cancelled_order(
    fake_stripe, p6_catalogue, client, django_capture_on_commit_callbacks,
):
    # given a cancelled order, paid at Stripe afterwards (an excess payment), refunded in full
    record = StockRecord.objects.select_related("product").get(partner_sku=SKU)
    order = place_pending_order(basket=build_basket(items=[(record.product, 1)]), email="fan@example.org",
                                address=ADDRESS)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.cancel_unpaid_order(order=order) == "cancelled"
    gateway = get_gateway()
    intent = gateway.create_intent(amount=order.total_incl_tax, currency=order.currency, order_number=order.number,
                                   attempt=1)
    record_attempt(order, intent, number=1)
    gateway.confirm_intent(intent.id, payment_method="pm_card_visa")
    with django_capture_on_commit_callbacks(execute=True):
        assert signed_post(client, fake_stripe.event("payment_intent.succeeded", intent.id)).status_code == 200
    excess = ExcessPayment.objects.get(order=order)
    fake_stripe.set_refund_status(excess.refund_id, "succeeded")
    with django_capture_on_commit_callbacks(execute=True):
        assert signed_post(client, fake_stripe.event("refund.updated", excess.refund_id)).status_code == 200
    excess.refresh_from_db()
    assert excess.status == ExcessPayment.REFUNDED

    # when the refund fails after it succeeded, its webhook is lost, and the reconciler runs
    fake_stripe.set_refund_status(excess.refund_id, "failed", failure_reason="lost_or_stolen_card")
    with django_capture_on_commit_callbacks(execute=True):
        call_command("reconcile_payments", stdout=Sink())

    # then the excess payment is known not to be refunded, and is refunded again
    excess.refresh_from_db()
    assert excess.status == ExcessPayment.REFUND_PENDING
    assert excess.refund_tries == 1
