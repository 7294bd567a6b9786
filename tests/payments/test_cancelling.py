"""Cancelling an order that was never paid (shop/payments/services/cancelling.py; DESIGN step 7).
`cancel_unpaid_orders` against localstripe: old unpaid orders are cancelled, their intents first at Stripe and
their stock released; one paid at Stripe after all is captured instead; when Stripe cannot be asked, the
command fails loudly and changes nothing. Against the Stripe-shaped fake (issue 11 (d)): a cancellation cancels
a pending 3D Secure so it can never charge, and never races a payment. The race runs on PostgreSQL only."""

import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from oscar.core.loading import get_model

from shop.payments import services
from shop.payments.gateway import CardDeclined
from shop.payments.models import PaymentAttempt
from tests.concurrency import support
from tests.payments.conftest import place_order
from tests.payments.events import paid_at_stripe_only, shop_rows
from tests.payments.support import (
    TOTAL,
    allocated_units,
    assert_charged_once,
    assert_paid_once,
    intent_status,
    open_attempt,
    placed_long_ago,
    post_pay,
    reload,
    run_command,
    stripe_charges,
)
from tests.racing import race
from tests.stripe_peer import free_port

Order = get_model("order", "Order")
OrderNote = get_model("order", "OrderNote")


# --- cancel_unpaid_orders -----------------------------------------------------------------------------


def test_cancel_unpaid_orders_cancels_old_ones_and_leaves_recent_ones(client, p6_catalogue, shop_gateway,
                                                                      stripe_peer):
    # given an order placed 31 minutes ago and one placed just now, both with an open payment attempt
    allocated_before = allocated_units()
    old, _ = place_order(client)
    old_intent = open_attempt(shop_gateway, old)
    old = placed_long_ago(old, 31)
    recent, _ = place_order(client)
    recent_intent = open_attempt(shop_gateway, recent)
    assert allocated_units() == allocated_before + 2

    # when unpaid orders older than 30 minutes are cancelled
    out, err = run_command("cancel_unpaid_orders", "--older-than", "30")

    # then the old order's intent is cancelled at Stripe, the order Cancelled, its stock released
    assert out.splitlines() == [f"order {old.number}: cancelled", "unpaid orders: cancelled 1, captured 0, skipped 0"]
    assert err == ""
    assert intent_status(stripe_peer, old_intent.id) == "canceled"
    assert reload(old).status == "Cancelled"
    assert list(old.lines.values_list("status", "num_allocated")) == [("Cancelled", 0)]
    assert PaymentAttempt.objects.get(intent_id=old_intent.id).status == PaymentAttempt.CANCELED
    assert list(OrderNote.objects.filter(order=old).values_list("message", flat=True)) == [
        "Cancelled: not paid in time; stock released."]
    assert allocated_units() == allocated_before + 1

    # and the recent one is untouched, here and at Stripe
    assert reload(recent).status == "Pending payment"
    assert list(recent.lines.values_list("num_allocated", flat=True)) == [1]
    assert intent_status(stripe_peer, recent_intent.id) == "requires_payment_method"
    assert PaymentAttempt.objects.get(intent_id=recent_intent.id).status == PaymentAttempt.CREATED

    # when it runs again, then nothing changes
    before = shop_rows()
    run_command("cancel_unpaid_orders", "--older-than", "30")
    assert shop_rows() == before


def test_cancel_unpaid_orders_also_cancels_the_intent_of_a_declined_attempt(placed_order, shop_gateway, stripe_peer):
    # given an old order whose only attempt was declined: its intent is still open at Stripe, and the
    # browser that holds its client secret could still confirm it with another card
    intent = open_attempt(shop_gateway, placed_order)
    with pytest.raises(CardDeclined):
        shop_gateway.confirm_intent(intent.id, payment_method="pm_card_chargeCustomerFail")
    PaymentAttempt.objects.filter(intent_id=intent.id).update(status=PaymentAttempt.FAILED)
    order = placed_long_ago(placed_order, 31)

    # when unpaid orders are cancelled
    out, _ = run_command("cancel_unpaid_orders", "--older-than", "30")

    # then the order is cancelled and so is its intent at Stripe
    assert out.splitlines()[0] == f"order {order.number}: cancelled"
    assert reload(order).status == "Cancelled"
    assert intent_status(stripe_peer, intent.id) == "canceled"
    assert PaymentAttempt.objects.get(intent_id=intent.id).status == PaymentAttempt.CANCELED


def test_cancel_unpaid_orders_captures_a_declined_attempt_that_was_paid_after_all(placed_order, shop_gateway,
                                                                                  stripe_peer):
    # given an old order whose attempt the shop saw declined, but whose intent was then confirmed with
    # another card from the browser (real Stripe allows it; localstripe cannot retry a declined intent,
    # so the intent is paid first and the attempt marked failed afterwards)
    intent = paid_at_stripe_only(shop_gateway, placed_order)
    PaymentAttempt.objects.filter(intent_id=intent.id).update(status=PaymentAttempt.FAILED,
                                                              last_error="Your card was declined.")
    order = placed_long_ago(placed_order, 31)

    # when unpaid orders are cancelled, then it is captured, not cancelled
    out, _ = run_command("cancel_unpaid_orders", "--older-than", "30")
    assert out.splitlines()[0] == f"order {order.number}: captured"
    assert_paid_once(order, intent.id)


def test_cancel_unpaid_orders_cancels_an_order_that_never_reached_stripe(client, p6_catalogue, stripe_peer):
    # given an order placed an hour ago whose fan never tried to pay (no attempt, no intent)
    allocated_before = allocated_units()
    order, _ = place_order(client)
    order = placed_long_ago(order, 60)

    # when unpaid orders are cancelled, then it is, and its stock released
    out, _ = run_command("cancel_unpaid_orders", "--older-than", "30")
    assert out.splitlines()[0] == f"order {order.number}: cancelled"
    assert reload(order).status == "Cancelled"
    assert allocated_units() == allocated_before


def test_cancel_unpaid_orders_captures_an_order_whose_payment_succeeded(placed_order, shop_gateway, stripe_peer):
    # given an old order whose payment succeeded at Stripe but was never written
    intent = paid_at_stripe_only(shop_gateway, placed_order)
    order = placed_long_ago(placed_order, 31)
    allocated = allocated_units()

    # when unpaid orders are cancelled
    out, _ = run_command("cancel_unpaid_orders", "--older-than", "30")

    # then it is captured instead: paid once, stock still allocated to it, the intent untouched
    assert out.splitlines() == [f"order {order.number}: captured", "unpaid orders: cancelled 0, captured 1, skipped 0"]
    assert_paid_once(order, intent.id)
    assert allocated_units() == allocated
    assert intent_status(stripe_peer, intent.id) == "succeeded"


@pytest.mark.parametrize("minutes", ["0", "-5"])
def test_cancel_unpaid_orders_refuses_a_cutoff_below_one_minute(placed_order, shop_gateway, minutes):
    # given an unpaid order with an open attempt
    open_attempt(shop_gateway, placed_order)
    before = shop_rows()

    # when asked to cancel orders older than 0 (or fewer) minutes, then it refuses and changes nothing
    with pytest.raises(CommandError) as refused:
        call_command("cancel_unpaid_orders", "--older-than", minutes, stdout=StringIO(), stderr=StringIO())
    assert str(refused.value) == "--older-than must be at least 1 minute"
    assert shop_rows() == before


def test_cancel_unpaid_orders_with_stripe_unreachable_fails_and_changes_nothing(placed_order, shop_gateway,
                                                                                 stripe_peer, settings):
    # given an old unpaid order with an open attempt, and Stripe unreachable
    intent = open_attempt(shop_gateway, placed_order)
    placed_long_ago(placed_order, 31)
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"
    before = shop_rows()

    # when unpaid orders are cancelled, then it fails and the order stays pending with its stock
    with pytest.raises(CommandError) as failed:
        call_command("cancel_unpaid_orders", "--older-than", "30", stdout=StringIO(), stderr=StringIO())
    assert str(failed.value) == "1 orders could not be cancelled; they stay pending"
    assert shop_rows() == before
    assert intent_status(stripe_peer, intent.id) == "requires_payment_method"


# --- a cancellation and a payment, one lease ----------------------------------------------------------


def test_d_cancellation_cancels_a_pending_3ds_at_stripe_so_it_can_never_charge(client, placed_order, fake_stripe):
    # given a fan in the middle of 3D Secure when the order times out
    intent_1 = post_pay(client, placed_order, payment_method="pm_card_threeDSecure2Required").json()["intent"]
    # when the order is cancelled
    assert services.cancel_unpaid_order(order=Order.objects.get(pk=placed_order.pk)) == "cancelled"
    # then the intent was cancelled at Stripe first; completing 3D Secure is refused; the fan is told so
    assert fake_stripe.objects("payment_intent")[0]["status"] == "canceled"
    with pytest.raises(Exception, match="canceled"):
        fake_stripe.complete_3ds(intent_1)
    late = post_pay(client, placed_order, intent=intent_1)
    assert late.json()["status"] == "declined"
    refused = post_pay(client, placed_order, payment_method="pm_card_visa")
    assert (refused.status_code, refused.json()["status"]) == (409, "not_payable")
    assert stripe_charges(fake_stripe, placed_order.number) == []
    assert Order.objects.get(pk=placed_order.pk).status == "Cancelled"


def test_d_a_cancellation_while_a_payment_is_in_progress_skips_the_order(placed_order, fake_stripe):
    PaymentAttempt.objects.create(order=placed_order, number=1, amount=TOTAL, currency="USD",
                                  status=PaymentAttempt.PAYING)
    assert services.cancel_unpaid_order(order=placed_order) == "skipped"
    assert Order.objects.get(pk=placed_order.pk).status == "Pending payment"
    assert fake_stripe.requests() == []


def test_d_a_payment_that_succeeded_at_stripe_is_captured_instead_of_cancelled(client, placed_order, fake_stripe,
                                                                               campaign):
    intent_1 = post_pay(client, placed_order, payment_method="pm_card_threeDSecure2Required").json()["intent"]
    fake_stripe.complete_3ds(intent_1)
    assert services.cancel_unpaid_order(order=placed_order) == "captured"
    assert_charged_once(fake_stripe, placed_order)


@support.postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("pay_first", [True, False], ids=["payment-first", "cancellation-first"])
def test_d_a_payment_racing_the_cancellation_never_charges_a_cancelled_order(fake_stripe, pay_first):
    support.load_shop()
    order = support.pending_order()
    # an earlier 3D Secure attempt the cancellation must settle at Stripe, slowly
    services.pay_order(order=order, payment_method="pm_card_threeDSecure2Required")
    fake_stripe.fault("*", "/confirm$|/cancel$", "hang", times=None, seconds=1)

    def pay():
        if not pay_first:
            time.sleep(0.2)
        return services.answer_pay_request(order=Order.objects.get(pk=order.pk), payment_method="pm_card_visa")

    def cancel():
        if pay_first:
            time.sleep(0.2)
        return services.cancel_unpaid_order(order=Order.objects.get(pk=order.pk))

    paid, cancelled = race(pay, cancel)
    order.refresh_from_db()
    charges = stripe_charges(fake_stripe, order.number)
    if pay_first:
        # the cancellation found the payment in progress and left the order
        assert (paid.status, cancelled) == ("succeeded", "skipped")
        assert_charged_once(fake_stripe, order)
    else:
        # the payment found the cancellation in progress: nothing charged, the order cancelled, stock released
        assert (paid.status, cancelled) == ("in_progress", "cancelled")
        assert (order.status, charges) == ("Cancelled", [])
        assert list(order.lines.values_list("num_allocated", flat=True)) == [0]
