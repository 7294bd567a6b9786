"""Every paid storefront order has its donation in the ledger, to the cent, exactly once (issue #4)."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from fundraising.models import Entry, LedgerTransaction, OrderLineBreakdown
from fundraising.selectors import beneficiary_balances
from tests.payments.conftest import place_order
from tests.payments.events import intent_event, signed_post

pytestmark = pytest.mark.django_db



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


def test_a_full_refund_from_the_dashboard_reverses_the_donation(client, p6_catalogue, campaign, stripe_peer,
                                                                  staff_client):
    order, _ = place_order(client, skus=(("P6-HOOD-BLK-L", 1),))
    client.post(reverse("checkout:pay", kwargs={"order_number": order.number}), {"payment_method": "pm_card_visa"})
    donation = LedgerTransaction.objects.get(idempotency_key=f"sale:{order.number}").entries.filter(
        debit__gt=0).get().debit
    assert donation == Decimal("16.01")  # (58.00 - 24.00 - estimated fee 1.98) x 50 %
    refund_url = reverse("payments-dashboard:order-refund", kwargs={"number": order.number})
    form = staff_client.get(refund_url).context["form"]
    response = staff_client.post(refund_url, {"scope": "whole", "request_id": form.initial["request_id"],
                                              "confirm": "1"})
    assert response.status_code == 302
    reversal = LedgerTransaction.objects.get(order=order, kind="refund")
    assert sum(e.debit for e in reversal.entries.all()) == donation
    assert sum(row.payable for row in beneficiary_balances(currency="USD")) == Decimal("0.00")
    out = StringIO()
    call_command("verify_ledger", stdout=out)
    assert "ledger OK" in out.getvalue()


def test_simulated_sales_leave_a_clean_ledger(p6_catalogue, campaign):
    call_command("simulate_sales", "--orders", "30", "--seed", "11", "--refund-rate", "0.4", stdout=StringIO())
    assert LedgerTransaction.objects.filter(kind="sale").count() == 30
    out = StringIO()
    call_command("verify_ledger", stdout=out)
    assert out.getvalue().startswith("ledger OK")
