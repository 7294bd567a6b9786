"""The one "payment captured" service (shop/payments/services/capture.py; DESIGN "A sale, end to end" steps
4 and 5): every paid storefront order has its donation in the ledger, to the cent, exactly once (issue #4),
whichever caller learns of the payment first; a charge that is not the order's payment (the wrong amount, a
second charge) is never marked paid: it is an excess payment, refunded through Stripe once and shown to staff."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from oscar.core.loading import get_model

from fundraising.models import Entry, LedgerTransaction, OrderLineBreakdown
from fundraising.selectors import beneficiary_balances
from shop.payments import services
from shop.payments.models import ExcessPayment, PaymentAttempt
from tests.payments.conftest import place_order
from tests.payments.events import intent_event, signed_post
from tests.payments.support import post_pay, written

Order = get_model("order", "Order")
Source = get_model("payment", "Source")

pytestmark = pytest.mark.django_db

TOTAL = Decimal("30.00")


# --- the sale, booked once ----------------------------------------------------------------------------


def test_a_storefront_payment_posts_its_donation_once(client, p6_catalogue, campaign, stripe_peer):
    # given a fan's order of two black M T-shirts (30.00 each, unit cost 11.50) and a tote bag (20.00, cost 6.00)
    order, _ = place_order(client, skus=(("P6-TEE-BLK-M", 2), ("P6-TOTE", 1)))
    assert OrderLineBreakdown.objects.filter(order=order).count() == 2
    # when the fan pays by card (localstripe reports a fee of 0.00, which it never charges: the gateway
    # ignores it and the ledger estimates the fee from the schedule, 2.9 % + 0.30, marked estimated)
    response = client.post(reverse("checkout:pay", kwargs={"order_number": order.number}),
                           {"payment_method": "pm_card_visa"})
    assert response.status_code == 302
    # then one sale transaction: fee 80.00 x 2.9 % + 0.30 = 2.62, pro-rata 1.97 / 0.65 (largest remainder of
    # 1.965 / 0.655); profit 60 - 23 - 1.97 = 35.03 and 20 - 6 - 0.65 = 13.35, half of each donated, rounded
    # half-up (17.515 -> 17.52, 6.675 -> 6.68), each split three ways by largest remainder
    sale = LedgerTransaction.objects.get(idempotency_key=f"sale:{order.number}")
    assert sale.kind == "sale"
    breakdowns = {b.line.partner_sku: b for b in OrderLineBreakdown.objects.filter(order=order)}
    tee, tote = breakdowns["P6-TEE-BLK-M"], breakdowns["P6-TOTE"]
    assert (tee.revenue_excl_tax, tee.unit_cost, tee.fee_share, tee.profit, tee.donation) == (
        Decimal("60.00"), Decimal("11.50"), Decimal("1.97"), Decimal("35.03"), Decimal("17.52"))
    assert (tote.fee_share, tote.profit, tote.donation, tote.fee_estimated) == (
        Decimal("0.65"), Decimal("13.35"), Decimal("6.68"), True)
    credits = sorted(e.credit for e in Entry.objects.filter(transaction=sale, credit__gt=0))
    assert sum(credits) == Decimal("24.20")
    assert Entry.objects.get(transaction=sale, debit__gt=0).debit == Decimal("24.20")

    # when Stripe's webhook for the same intent arrives afterwards
    event = intent_event(stripe_peer.url, "payment_intent.succeeded", order.sources.get().reference)
    assert signed_post(client, event).status_code == 200
    # then nothing more is posted
    assert LedgerTransaction.objects.filter(order=order).count() == 1
    assert sum(row.payable for row in beneficiary_balances(currency="USD")) == Decimal("24.20")


def test_payment_captured_twice_records_once(client, placed_order, stripe_peer, gateway,
                                            django_capture_on_commit_callbacks):
    # given an intent that succeeded for the order (the webhook and the page both learn of it)
    with django_capture_on_commit_callbacks(execute=True):
        assert post_pay(client, placed_order, payment_method="pm_card_visa").json()["status"] == "succeeded"
    intent = gateway.retrieve_intent(Source.objects.get(order=placed_order).reference)
    # when the second caller arrives
    with django_capture_on_commit_callbacks(execute=True):
        result = services.payment_captured(order=placed_order, intent=intent, gateway=gateway)
    # then it finds the work done and does nothing
    assert result.outcome == "already_captured"
    assert written(placed_order) == (1, 1, 1, "Paid")
    assert len(mail.outbox) == 2  # the order email at placement, and one confirmation


def test_simulated_sales_leave_a_clean_ledger(p6_catalogue, campaign):
    call_command("simulate_sales", "--orders", "30", "--seed", "11", "--refund-rate", "0.4", stdout=StringIO())
    assert LedgerTransaction.objects.filter(kind="sale").count() == 30
    out = StringIO()
    call_command("verify_ledger", stdout=out)
    assert out.getvalue().startswith("ledger OK")


# --- excess payments ----------------------------------------------------------------------------------


def test_a_captured_amount_that_differs_from_the_order_is_never_marked_paid(placed_order, stripe_peer, gateway):
    # given an intent of ours that captured less than the order total
    intent = gateway.create_intent(amount=Decimal("1.00"), currency="USD", order_number=str(placed_order.number),
                                   attempt=1)
    PaymentAttempt.objects.create(order=placed_order, number=1, intent_id=intent.id, amount=intent.amount,
                                  currency="USD")
    intent = gateway.confirm_intent(intent.id, payment_method="pm_card_visa")
    # when it is reported captured
    result = services.payment_captured(order=placed_order, intent=intent, gateway=gateway)
    # then the order is not paid, the money is an excess payment refunded at Stripe, and staff have a note
    assert result.outcome == "excess"
    assert written(placed_order)[:2] == (0, 0)
    assert Order.objects.get(pk=placed_order.pk).status == "Pending payment"
    note = placed_order.notes.get()
    assert "1.00 USD" in note.message and "30.00 USD" in note.message
    excess = services.ExcessPayment.objects.get(order=placed_order)
    assert (excess.amount, excess.intent_id, excess.status) == (Decimal("1.00"), intent.id, "recorded")
    services.refund_excess(excess=excess, gateway=gateway)  # what the commit hook does
    excess.refresh_from_db()
    assert (excess.status, excess.refunded_amount) == ("refunded", Decimal("1.00"))


def test_staff_see_excess_payments_on_the_order_page_and_in_their_list(client, staff_client, placed_order,
                                                                      fake_stripe, campaign,
                                                                      django_capture_on_commit_callbacks):
    # given a paid order and a second charge for it (attempt 2, made by hand at Stripe: e.g. a late worker)
    assert post_pay(client, placed_order, payment_method="pm_card_visa").json()["status"] == "succeeded"
    gateway = services.paying.get_gateway()
    second = gateway.create_intent(amount=TOTAL, currency="USD", order_number=placed_order.number, attempt=2)
    PaymentAttempt.objects.create(order=placed_order, number=2, intent_id=second.id, amount=TOTAL, currency="USD")
    second = gateway.confirm_intent(second.id, payment_method="pm_card_visa")
    # when the shop learns of it
    with django_capture_on_commit_callbacks(execute=True):
        result = services.payment_captured(order=placed_order, intent=second)
    # then it is an excess payment, refunded through Stripe once (pending there), never part of the sale
    assert result.outcome == "excess"
    excess = ExcessPayment.objects.get()
    assert (excess.charge_id, excess.amount, excess.status) == (second.latest_charge_id, TOTAL, "refund_pending")
    [refund] = [r for r in fake_stripe.requests(method="POST") if r["path"] == "/v1/refunds"]
    assert (refund["idempotency_key"], refund["params"]["charge"], refund["params"]["amount"]) == (
        f"excess:{second.latest_charge_id}:0", second.latest_charge_id, "3000")
    assert LedgerTransaction.objects.filter(order=placed_order).count() == 1
    assert Order.objects.get(pk=placed_order.pk).status == "Paid"
    # and staff see it on the order page and in the list of excess payments
    page = staff_client.get(reverse("dashboard:order-detail", kwargs={"number": placed_order.number}))
    assert page.status_code == 200
    assert second.latest_charge_id in page.content.decode()
    listing = staff_client.get(reverse("payments-dashboard:excess-list") + "?open=1")
    assert listing.status_code == 200
    assert [row.charge_id for row in listing.context["excess_payments"]] == [second.latest_charge_id]
    # when Stripe reports the refund succeeded (refund.updated), then the excess is refunded; the sale untouched
    fake_stripe.set_refund_status(excess.refund_id, "succeeded")
    from tests.payments.events import signed_post
    assert signed_post(client, fake_stripe.event("refund.updated", excess.refund_id)).status_code == 200
    excess.refresh_from_db()
    assert (excess.status, excess.refunded_amount) == ("refunded", TOTAL)
    assert LedgerTransaction.objects.filter(order=placed_order).count() == 1
    assert list(staff_client.get(reverse("payments-dashboard:excess-list") + "?open=1")
                .context["excess_payments"]) == []
