"""Disputes (chargebacks) against the Stripe-shaped fake, matched to the charge they are about
(DESIGN "A sale, end to end" steps 5 and 6): a dispute lost on the booked charge reverses the donation
once, by dispute id; won, warning_closed and prevented leave it; a dispute on an excess payment never
touches the sale; a dispute in another currency is converted through Stripe's balance transactions;
an event about an object Stripe does not have is answered 200 and ignored with a note on the event.

The order throughout: one black M T-shirt, 30.00 USD, unit cost 11.50, fee 2.9 % + 0.30 = 1.17, so the
donation is (30.00 - 11.50 - 1.17) x 50 % = 8.665 -> 8.67 USD, 2.89 to each of the three beneficiaries.
"""

import dataclasses
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from oscar.core.loading import get_model

from fundraising.models import Entry, LedgerTransaction
from fundraising.selectors import beneficiary_balances
from shop.payments.gateway import BalanceTransaction, StripeGateway
from shop.payments.models import ExcessPayment, PaymentAttempt, StripeDispute, StripeEvent
from tests.payments.conftest import place_order
from tests.payments.events import event, paid_at_stripe_only, shop_rows, signed_post

Order = get_model("order", "Order")
OrderNote = get_model("order", "OrderNote")
PaymentEvent = get_model("order", "PaymentEvent")
Source = get_model("payment", "Source")

TOTAL = Decimal("30.00")
DONATION = Decimal("8.67")
ZERO = Decimal("0.00")
RLN, COMING_OUT, SPHERE = "russian-lgbt-network", "coming-out-st-petersburg", "sphere-foundation"
BEFORE = {RLN: Decimal("2.89"), COMING_OUT: Decimal("2.89"), SPHERE: Decimal("2.89")}
NOTHING_LEFT = {RLN: ZERO, COMING_OUT: ZERO, SPHERE: ZERO}



def _pay(client, order):
    response = client.post(reverse("checkout:pay", kwargs={"order_number": order.number}),
                           {"payment_method": "pm_card_visa"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json()["status"] == "succeeded"
    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.total_incl_tax) == ("Paid", TOTAL)
    return order


@pytest.fixture
def paid_order(client, p6_catalogue, campaign, fake_stripe):
    """A guest fan's order of one T-shirt (30.00 USD), paid on the payment page with a test Visa."""
    order, _ = place_order(client)
    return _pay(client, order)


def _reload(order):
    return Order.objects.get(pk=order.pk)


def _charge_id(fake_gateway, intent_id):
    return fake_gateway.retrieve_intent(intent_id).latest_charge_id


def _booked_charge(fake_gateway, order):
    return _charge_id(fake_gateway, Source.objects.get(order=order).reference)


def _payables():
    return {row.beneficiary.slug: row.payable for row in beneficiary_balances(currency="USD")}


def _ledger(order):
    """(key, kind, basis, beneficiaries' side) of each transaction of the order."""
    rows = []
    for txn in LedgerTransaction.objects.filter(order=order).order_by("pk"):
        side = "credit" if txn.kind in ("sale", "restoration") else "debit"
        entries = Entry.objects.filter(transaction=txn, account__beneficiary__isnull=False)
        rows.append((txn.idempotency_key, txn.kind, txn.basis_amount, sum((getattr(e, side) for e in entries), ZERO)))
    return rows


def _events(order, name):
    return list(PaymentEvent.objects.filter(order=order, event_type__name=name).order_by("pk")
                .values_list("reference", "amount"))


def _notes(order, text):
    return list(OrderNote.objects.filter(order=order, message__contains=text).order_by("pk")
                .values_list("message", flat=True))


def _deliver(client, fake, type, object_id):
    response = signed_post(client, fake.event(type, object_id))
    assert response.status_code == 200, response.content
    return response.json()


def _ledger_ok():
    out = StringIO()
    call_command("verify_ledger", stdout=out)
    assert out.getvalue().startswith("ledger OK"), out.getvalue()


def _state():
    """shop_rows() without the webhook event rows, plus the disputes and the ledger."""
    rows = shop_rows()
    rows.pop("stripe_events")
    rows["disputes"] = sorted(StripeDispute.objects.values_list("dispute_id", "status", "booked", "order_amount",
                                                                "reversed_at"))
    rows["ledger"] = sorted(LedgerTransaction.objects.values_list("idempotency_key", "basis_amount"))
    return rows


# --- on the booked charge -----------------------------------------------------------------------------


def test_dispute_lost_on_the_booked_charge_reverses_the_donation_once(client, paid_order, fake_stripe,
                                                                      fake_gateway):
    # given the card holder disputes the order's charge (Stripe withdraws the 30.00 at once)
    dispute = fake_stripe.create_dispute(_booked_charge(fake_gateway, paid_order))
    dp = dispute["id"]

    # when Stripe reports it opened
    answer = _deliver(client, fake_stripe, "charge.dispute.created", dp)

    # then staff get one note, and nothing is reversed yet
    assert answer == {"outcome": "processed", "detail": f"order {paid_order.number}: dispute {dp} needs_response"}
    assert _notes(paid_order, dp) == [f"Dispute {dp} opened for 30.00 USD (needs_response)."]
    row = StripeDispute.objects.get()
    assert (row.dispute_id, row.booked, row.amount, row.currency, row.order_amount, row.status, row.reversed_at) == (
        dp, True, TOTAL, "USD", TOTAL, "needs_response", None)
    assert _ledger(paid_order) == [(f"sale:{paid_order.number}", "sale", TOTAL, DONATION)]
    assert _payables() == BEFORE
    opened = _state()

    # when the funds-withdrawn event and the same opening under a new event id arrive
    _deliver(client, fake_stripe, "charge.dispute.funds_withdrawn", dp)
    _deliver(client, fake_stripe, "charge.dispute.created", dp)

    # then nothing is added
    assert _state() == opened

    # when it is lost, and Stripe reports it closed
    fake_stripe.update_dispute(dp, "lost")
    closed = fake_stripe.event("charge.dispute.closed", dp)
    assert signed_post(client, closed).json() == {"outcome": "processed",
                                                  "detail": f"order {paid_order.number}: dispute {dp} lost"}

    # then the whole donation is reversed once, by dispute id, with one "Dispute lost" payment event
    assert _ledger(paid_order) == [
        (f"sale:{paid_order.number}", "sale", TOTAL, DONATION),
        (f"dispute:{dp}", "dispute", TOTAL, DONATION),
    ]
    assert _payables() == NOTHING_LEFT
    assert _events(paid_order, "Dispute lost") == [(dp, TOTAL)]
    assert _notes(paid_order, f"{dp} lost") == [f"Dispute {dp} lost: 30.00 USD taken back by the card issuer."]
    row.refresh_from_db()
    assert (row.status, row.order_amount) == ("lost", TOTAL) and row.reversed_at is not None
    # the money left by the dispute, not by a refund: the Source and the order's status are Stripe's charge
    assert Source.objects.get(order=paid_order).amount_refunded == ZERO
    assert _reload(paid_order).status == "Paid"
    _ledger_ok()
    lost = _state()

    # when every dispute event arrives again, and the closing event is delivered a second time
    for type in ("charge.dispute.funds_withdrawn", "charge.dispute.updated", "charge.dispute.closed",
                 "charge.dispute.created"):
        _deliver(client, fake_stripe, type, dp)
    assert signed_post(client, closed).json() == {"outcome": "duplicate", "detail": "processed"}

    # then nothing is added
    assert _state() == lost
    assert LedgerTransaction.objects.count() == 2
    _ledger_ok()


@pytest.mark.parametrize("opened_as, steps, closed_as", [
    ("needs_response", [("won", "charge.dispute.funds_reinstated")], "won"),
    ("warning_needs_response", [], "warning_closed"),
    ("needs_response", [("under_review", "charge.dispute.updated")], "prevented"),
], ids=["won", "warning_closed", "prevented"])
def test_dispute_closed_in_the_shops_favour_leaves_the_donation(client, paid_order, fake_stripe, fake_gateway,
                                                                opened_as, steps, closed_as):
    # given a dispute (or an inquiry) on the order's charge, reported opened
    dispute = fake_stripe.create_dispute(_booked_charge(fake_gateway, paid_order), status=opened_as)
    dp = dispute["id"]
    _deliver(client, fake_stripe, "charge.dispute.created", dp)

    # when it moves on and is closed in the shop's favour
    for status, type in steps:
        fake_stripe.update_dispute(dp, status)
        _deliver(client, fake_stripe, type, dp)
    fake_stripe.update_dispute(dp, closed_as)
    answer = _deliver(client, fake_stripe, "charge.dispute.closed", dp)

    # then staff get one note that it closed, and the donation, the order and its money are untouched
    assert answer == {"outcome": "processed", "detail": f"order {paid_order.number}: dispute {dp} {closed_as}"}
    assert _notes(paid_order, dp) == [f"Dispute {dp} opened for 30.00 USD ({opened_as}).",
                                      f"Dispute {dp} closed: {closed_as}."]
    assert StripeDispute.objects.get().status == closed_as
    assert StripeDispute.objects.get().reversed_at is None
    assert _ledger(paid_order) == [(f"sale:{paid_order.number}", "sale", TOTAL, DONATION)]
    assert _payables() == BEFORE
    assert _events(paid_order, "Dispute lost") == []
    assert _reload(paid_order).status == "Paid"
    closed = _state()

    # when the closing and the reinstatement are reported again
    _deliver(client, fake_stripe, "charge.dispute.closed", dp)
    _deliver(client, fake_stripe, "charge.dispute.funds_reinstated", dp)

    # then nothing is added
    assert _state() == closed
    _ledger_ok()


# --- on an excess payment -----------------------------------------------------------------------------


@pytest.mark.parametrize("refund_first", [False, True], ids=["disputed before its refund", "refunded first"])
def test_dispute_lost_on_an_excess_payment_never_touches_the_sale(client, paid_order, fake_stripe, fake_gateway,
                                                                  django_capture_on_commit_callbacks, refund_first):
    # given the paid order charged a second time (attempt 2, e.g. 3DS completed late in another tab)
    second = paid_at_stripe_only(fake_gateway, paid_order, number=2)
    second_charge = second.latest_charge_id
    with django_capture_on_commit_callbacks(execute=refund_first):
        answer = _deliver(client, fake_stripe, "payment_intent.succeeded", second.id)
    assert answer == {"outcome": "processed", "detail": f"order {paid_order.number}: excess"}
    excess = ExcessPayment.objects.get()
    assert (excess.intent_id, excess.charge_id, excess.amount, excess.currency) == (
        second.id, second_charge, TOTAL, "USD")
    if refund_first:
        # its refund was made after the commit, and succeeded
        (refund,) = fake_stripe.objects("refund")
        assert (refund["charge"], refund["amount"]) == (second_charge, 3000)
        fake_stripe.set_refund_status(refund["id"], "succeeded")
        _deliver(client, fake_stripe, "refund.updated", refund["id"])
        excess.refresh_from_db()
        assert (excess.status, excess.refunded_amount) == (ExcessPayment.REFUNDED, TOTAL)
    else:
        assert excess.status == ExcessPayment.RECORDED
    assert _ledger(paid_order) == [(f"sale:{paid_order.number}", "sale", TOTAL, DONATION)]
    source_before = list(Source.objects.values_list("reference", "amount_debited", "amount_refunded"))

    # when the card holder disputes the second charge, and loses
    dispute = fake_stripe.create_dispute(second_charge)
    dp = dispute["id"]
    opened = _deliver(client, fake_stripe, "charge.dispute.created", dp)
    fake_stripe.update_dispute(dp, "lost")
    closed = _deliver(client, fake_stripe, "charge.dispute.closed", dp)

    # then the dispute is recorded as the excess payment's: no reversal, no payment event, the sale untouched
    assert opened["detail"] == f"order {paid_order.number}: dispute {dp} needs_response (excess payment)"
    assert closed["detail"] == f"order {paid_order.number}: dispute {dp} lost (excess payment)"
    row = StripeDispute.objects.get()
    assert (row.booked, row.charge_id, row.order_amount, row.status, row.reversed_at) == (
        False, second_charge, None, "lost", None)
    assert _notes(paid_order, dp) == [f"Dispute {dp} opened for 30.00 USD (needs_response) on an excess payment, "
                                      "not on the order's payment."]
    excess.refresh_from_db()
    # a refunded excess payment stays refunded; one not yet refunded is disputed (Stripe's business now)
    assert excess.status == (ExcessPayment.REFUNDED if refund_first else ExcessPayment.DISPUTED)
    assert _ledger(paid_order) == [(f"sale:{paid_order.number}", "sale", TOTAL, DONATION)]
    assert _payables() == BEFORE
    assert _events(paid_order, "Dispute lost") == []
    assert _reload(paid_order).status == "Paid"
    assert list(Source.objects.values_list("reference", "amount_debited", "amount_refunded")) == source_before
    assert PaymentAttempt.objects.get(order=paid_order, booked=True).number == 1
    settled = _state()

    # when the reconciler runs
    out = StringIO()
    call_command("reconcile_payments", stdout=out)

    # then it leaves the disputed money alone: no refund is tried for it
    assert "errors 0" in out.getvalue()
    assert _state() == settled
    assert len(fake_stripe.requests("POST", "/v1/refunds")) == (1 if refund_first else 0)
    _ledger_ok()


def test_excess_payment_disputed_while_its_refund_is_pending_is_never_refunded_again(
        client, paid_order, fake_stripe, fake_gateway, django_capture_on_commit_callbacks):
    # given an excess payment whose refund Stripe reports pending
    second = paid_at_stripe_only(fake_gateway, paid_order, number=2)
    with django_capture_on_commit_callbacks(execute=True):
        _deliver(client, fake_stripe, "payment_intent.succeeded", second.id)
    excess = ExcessPayment.objects.get()
    (refund,) = fake_stripe.objects("refund")
    assert (excess.status, excess.refund_id) == (ExcessPayment.REFUND_PENDING, refund["id"])

    # when the card holder disputes that charge meanwhile
    dp = fake_stripe.create_dispute(second.latest_charge_id)["id"]
    _deliver(client, fake_stripe, "charge.dispute.created", dp)

    # then it is disputed, and a late report of the still-pending refund does not undo that
    excess.refresh_from_db()
    assert excess.status == ExcessPayment.DISPUTED
    _deliver(client, fake_stripe, "refund.updated", refund["id"])
    excess.refresh_from_db()
    assert excess.status == ExcessPayment.DISPUTED

    # when the refund then fails at Stripe, and the reconciler runs
    fake_stripe.set_refund_status(refund["id"], "failed", "unknown")
    _deliver(client, fake_stripe, "refund.failed", refund["id"])
    out = StringIO()
    call_command("reconcile_payments", stdout=out)

    # then it stays disputed with the failure noted, and no second refund is asked of Stripe (a disputed
    # charge cannot be refunded: Stripe would refuse it on every run)
    excess.refresh_from_db()
    assert (excess.status, excess.refunded_amount, excess.refund_tries) == (ExcessPayment.DISPUTED, ZERO, 0)
    assert excess.error == f"refund {refund['id']} failed: unknown"
    assert "unchanged 1" in out.getvalue()
    assert [r["status"] for r in fake_stripe.requests("POST", "/v1/refunds")] == [200]
    failed = _state()
    _deliver(client, fake_stripe, "refund.failed", refund["id"])
    call_command("reconcile_payments", stdout=StringIO())
    assert _state() == failed
    assert _ledger(paid_order) == [(f"sale:{paid_order.number}", "sale", TOTAL, DONATION)]
    assert _payables() == BEFORE
    assert _reload(paid_order).status == "Paid"


# --- in another currency ------------------------------------------------------------------------------


def test_dispute_in_another_currency_is_converted_through_the_balance_transactions(client, p6_catalogue, campaign,
                                                                                  fake_stripe, fake_gateway):
    # given Stripe settles this account in EUR at 0.9 EUR per USD, and the fan pays the 30.00 USD order:
    # the charge's balance transaction is 30.00 x 0.9 = 27.00 EUR (its fee, in EUR, cannot be used: the
    # ledger estimates it, 2.9 % + 0.30 = 1.17 USD, so the donation is still 8.67)
    fake_stripe.set_settlement("EUR", "0.9")
    order, _ = place_order(client)
    order = _pay(client, order)
    charge_id = _booked_charge(fake_gateway, order)
    charge = fake_gateway.retrieve_charge(charge_id)
    assert (charge.balance_transaction.amount, charge.balance_transaction.currency) == (Decimal("27.00"), "EUR")
    assert _ledger(order) == [(f"sale:{order.number}", "sale", TOTAL, DONATION)]

    # when a dispute of 20.00 EUR is opened on it (Stripe withdraws 20.00 EUR) and lost
    dispute = fake_stripe.create_dispute(charge_id, amount=2000, currency="eur")
    dp = dispute["id"]
    _deliver(client, fake_stripe, "charge.dispute.created", dp)
    fake_stripe.update_dispute(dp, "lost")
    _deliver(client, fake_stripe, "charge.dispute.closed", dp)

    # then the amount reversed is the order-currency share of what was withdrawn (disputes.order_amount_of):
    # captured x withdrawn / settled = 30.00 USD x 20.00 EUR / 27.00 EUR = 22.222... -> 22.22 USD, never the
    # raw 20.00; the donation reversed is 8.67 x 22.22 / 30.00 = 6.4216 -> 6.42, 2.14 from each beneficiary
    row = StripeDispute.objects.get()
    assert (row.amount, row.currency, row.order_amount, row.status) == (Decimal("20.00"), "EUR", Decimal("22.22"),
                                                                        "lost")
    assert _ledger(order) == [
        (f"sale:{order.number}", "sale", TOTAL, DONATION),
        (f"dispute:{dp}", "dispute", Decimal("22.22"), Decimal("6.42")),
    ]
    assert _payables() == {RLN: Decimal("0.75"), COMING_OUT: Decimal("0.75"), SPHERE: Decimal("0.75")}
    assert _events(order, "Dispute lost") == [(dp, Decimal("22.22"))]
    assert _notes(order, f"{dp} lost") == [f"Dispute {dp} lost: 22.22 USD taken back by the card issuer."]
    lost = _state()

    # when the closing is reported again
    _deliver(client, fake_stripe, "charge.dispute.closed", dp)
    _deliver(client, fake_stripe, "charge.dispute.funds_withdrawn", dp)

    # then nothing is added
    assert _state() == lost
    _ledger_ok()


def test_inquiry_in_another_currency_escalated_to_a_chargeback_is_converted_when_its_funds_are_withdrawn(
        client, p6_catalogue, campaign, fake_stripe, fake_gateway, monkeypatch):
    # given the order paid while the account settles in EUR at 0.9 (the charge settled as 27.00 EUR), and
    # an inquiry of 20.00 EUR on it: no money withdrawn yet, so no order-currency amount can be known
    fake_stripe.set_settlement("EUR", "0.9")
    order, _ = place_order(client)
    order = _pay(client, order)
    dp = fake_stripe.create_dispute(_booked_charge(fake_gateway, order), amount=2000, currency="eur",
                                    status="warning_needs_response")["id"]
    _deliver(client, fake_stripe, "charge.dispute.created", dp)
    assert StripeDispute.objects.get().order_amount is None

    # when it escalates to a chargeback: Stripe withdraws the 20.00 EUR then (charge.dispute.funds_withdrawn).
    # The fake moves the status but withdraws only when a dispute is created, so the withdrawal Stripe
    # reports from now on is added to what the gateway retrieves.
    fake_stripe.update_dispute(dp, "needs_response")
    withdrawal = BalanceTransaction(id="txn_1EscalatedWithdrawal0001", amount=Decimal("-20.00"), fee=Decimal("15.00"),
                                    net=Decimal("-35.00"), currency="EUR", exchange_rate=None, type="adjustment")
    real_retrieve = StripeGateway.retrieve_dispute
    monkeypatch.setattr(StripeGateway, "retrieve_dispute", lambda self, dispute_id: dataclasses.replace(
        real_retrieve(self, dispute_id), balance_transactions=(withdrawal,)))
    _deliver(client, fake_stripe, "charge.dispute.funds_withdrawn", dp)
    fake_stripe.update_dispute(dp, "lost")
    _deliver(client, fake_stripe, "charge.dispute.closed", dp)

    # then the amount is known from the withdrawal, 30.00 x 20.00 / 27.00 = 22.22 USD, and the lost dispute
    # reverses 8.67 x 22.22 / 30.00 = 6.42 once
    row = StripeDispute.objects.get()
    assert (row.order_amount, row.status) == (Decimal("22.22"), "lost")
    assert _ledger(order)[1:] == [(f"dispute:{dp}", "dispute", Decimal("22.22"), Decimal("6.42"))]
    assert _notes(order, "could not be determined") == []
    lost = _state()
    _deliver(client, fake_stripe, "charge.dispute.closed", dp)
    assert _state() == lost
    _ledger_ok()


# --- objects Stripe does not have ---------------------------------------------------------------------


@pytest.mark.parametrize("type, obj", [
    ("payment_intent.succeeded", {"id": "pi_doesnotexist123", "object": "payment_intent"}),
    ("payment_intent.payment_failed", {"id": "pi_doesnotexist123", "object": "payment_intent"}),
    ("charge.refunded", {"id": "ch_doesnotexist123", "object": "charge"}),
    ("charge.refund.updated", {"id": "re_doesnotexist123", "object": "refund"}),
    ("refund.updated", {"id": "re_doesnotexist123", "object": "refund"}),
    ("refund.failed", {"id": "re_doesnotexist123", "object": "refund"}),
    ("charge.dispute.created", {"id": "dp_doesnotexist123", "object": "dispute"}),
    ("charge.dispute.closed", {"id": "dp_doesnotexist123", "object": "dispute"}),
])
def test_event_about_an_object_stripe_does_not_have_is_ignored_with_a_note(client, paid_order, fake_stripe, type,
                                                                           obj):
    # given a paid order, and a signed event about an object Stripe does not have
    before = _state()
    events_before = StripeEvent.objects.count()
    evt = event(type, {**obj, "livemode": False})

    # when it is delivered, twice
    response = signed_post(client, evt)
    again = signed_post(client, evt)

    # then it is answered 200 and ignored (Stripe would retry a 5xx for days), the event row says why,
    # and nothing else is written
    assert response.status_code == 200
    body = response.json()
    assert body["outcome"] == "ignored"
    assert body["detail"].startswith("Stripe does not have this event's object: Stripe has no such object")
    assert obj["id"] in body["detail"]
    assert (again.status_code, again.json()) == (200, {"outcome": "duplicate", "detail": "ignored"})
    stored = StripeEvent.objects.get(event_id=evt["id"])
    assert (stored.type, stored.object_id, stored.outcome, stored.detail, stored.deliveries) == (
        type, obj["id"], StripeEvent.IGNORED, body["detail"], 2)
    assert StripeEvent.objects.count() == events_before + 1
    assert _state() == before

