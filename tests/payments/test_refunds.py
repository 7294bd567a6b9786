"""Refunds from the dashboard, as staff, against localstripe (shop/payments/services/refunds.py; their
lifecycle at Stripe is in test_refunds_lifecycle.py): the whole order, an amount, chosen lines; each refund
reaches Stripe once and is recorded once, whichever of the API answer and the webhook comes first, and a
whole refund reverses the order's donation; anything beyond what is left, or on an unpaid order, is refused
and writes nothing.
"""

import uuid
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from oscar.core.loading import get_model

from fundraising.models import LedgerTransaction
from fundraising.selectors import beneficiary_balances
from shop.payments import services
from shop.payments.gateway import StripeGateway, get_gateway
from shop.payments.models import StripeRefund
from tests.payments.conftest import place_order
from tests.payments.events import charge_refunded_event, shop_rows, signed_post
from tests.stripe_peer import count_objects, free_port

Order = get_model("order", "Order")
PaymentEvent = get_model("order", "PaymentEvent")
PaymentEventQuantity = get_model("order", "PaymentEventQuantity")
Source = get_model("payment", "Source")

TOTAL = Decimal("30.00")  # one black M T-shirt, free shipping, no tax


@pytest.fixture
def fan():
    """The fan's own browser (the `client` fixture is the staff member's)."""
    return Client()


@pytest.fixture
def paid_order(fan, p6_catalogue, stripe_peer):
    """A guest fan's order of one T-shirt, paid by card."""
    order, _ = place_order(fan)
    return _pay(order)


def _pay(order):
    outcome = services.pay_order(order=order, payment_method="pm_card_visa")
    assert outcome.status == "succeeded"
    return Order.objects.get(pk=order.pk)


def _url(order):
    return reverse("payments-dashboard:order-refund", kwargs={"number": order.number})


def _form(scope, *, request_id=None, **fields):
    """The refund form as posted from its confirmation page (confirm=1: Stripe is called)."""
    return {"scope": scope, "request_id": request_id or uuid.uuid4().hex, "reason": "", "amount": "", "confirm": "1",
            **fields}


def _reload(order):
    return Order.objects.get(pk=order.pk)


def _refunded(order):
    return Source.objects.get(order=order).amount_refunded


def _stripe_refunds(stripe_peer):
    return count_objects(stripe_peer.url, "refunds")


def test_refund_page_shows_what_was_captured_and_what_is_left(staff_client, paid_order):
    # given a paid order of 30.00 with nothing refunded
    # when staff open its refund page
    response = staff_client.get(_url(paid_order))

    # then it shows 30.00 captured and 30.00 left, and a fresh request id in the form
    assert response.status_code == 200
    assert (response.context["captured"], response.context["left"]) == (TOTAL, TOTAL)
    assert b'<strong id="left-to-refund">$30.00</strong>' in response.content
    assert len(response.context["form"].initial["request_id"]) == 32


def test_refund_whole_order(staff_client, staff_user, paid_order, stripe_peer):
    # given a paid order of 30.00
    form = _form("whole", reason="Fan changed their mind")

    # when staff refund the whole order
    response = staff_client.post(_url(paid_order), form)

    # then Stripe made one refund of 30.00, recorded once; the order is Refunded
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:order-detail", kwargs={"number": paid_order.number})
    assert _stripe_refunds(stripe_peer) == 1
    row = StripeRefund.objects.get()
    assert (row.order_id, row.request_id, row.amount, row.currency, row.status) == (
        paid_order.pk, form["request_id"], TOTAL, "USD", StripeRefund.SUCCEEDED)
    assert row.refund_id.startswith("re_")
    assert (row.reason, row.requested_by, row.lines) == ("Fan changed their mind", staff_user, {})
    assert row.recorded_at is not None
    assert _reload(paid_order).status == "Refunded"
    assert _refunded(paid_order) == TOTAL
    assert list(PaymentEvent.objects.filter(event_type__name="Refunded").values_list("reference", "amount")) == [
        (row.refund_id, TOTAL)]

    # when the same form is posted again (a double click, a resubmitted page)
    again = staff_client.post(_url(paid_order), form)

    # then it is the same refund: still one at Stripe, one row, one payment event
    assert again.status_code == 302
    assert _stripe_refunds(stripe_peer) == 1
    assert StripeRefund.objects.count() == 1
    assert PaymentEvent.objects.filter(event_type__name="Refunded").count() == 1
    assert _refunded(paid_order) == TOTAL


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


def test_refund_an_amount_then_the_rest(staff_client, paid_order, stripe_peer):
    # given a paid order of 30.00
    # when staff refund 12.34 of it
    assert staff_client.post(_url(paid_order), _form("amount", amount="12.34")).status_code == 302

    # then exactly 12.34 is refunded and the order stays Paid, with 17.66 left
    assert _stripe_refunds(stripe_peer) == 1
    assert list(StripeRefund.objects.values_list("amount", "status")) == [(Decimal("12.34"), StripeRefund.SUCCEEDED)]
    assert _refunded(paid_order) == Decimal("12.34")
    assert _reload(paid_order).status == "Paid"
    assert staff_client.get(_url(paid_order)).context["left"] == Decimal("17.66")

    # when they refund the rest of the order
    assert staff_client.post(_url(paid_order), _form("whole")).status_code == 302

    # then the second refund is the 17.66 left, and the order is Refunded
    assert _stripe_refunds(stripe_peer) == 2
    assert sorted(StripeRefund.objects.values_list("amount", flat=True)) == [Decimal("12.34"), Decimal("17.66")]
    assert _refunded(paid_order) == TOTAL
    assert _reload(paid_order).status == "Refunded"


def test_refund_chosen_lines(staff_client, fan, p6_catalogue, stripe_peer):
    # given a paid order of two T-shirts (2 × 30.00) and a pin (8.00)
    order, _ = place_order(fan, skus=(("P6-TEE-BLK-M", 2), ("P6-PIN", 1)))
    order = _pay(order)
    assert order.total_incl_tax == Decimal("68.00")
    tees = order.lines.get(partner_sku="P6-TEE-BLK-M")
    pin = order.lines.get(partner_sku="P6-PIN")

    # when staff refund one of the two T-shirts
    response = staff_client.post(_url(order), _form("lines", **{f"line_{tees.pk}": "1", f"line_{pin.pk}": "0"}))

    # then the refund is that line's price for one, and names the line
    assert response.status_code == 302
    assert _stripe_refunds(stripe_peer) == 1
    row = StripeRefund.objects.get()
    assert (row.amount, row.status, row.lines) == (Decimal("30.00"), StripeRefund.SUCCEEDED, {str(tees.pk): 1})
    event = PaymentEvent.objects.get(event_type__name="Refunded")
    assert event.amount == Decimal("30.00")
    assert list(PaymentEventQuantity.objects.filter(event=event).values_list("line_id", "quantity")) == [(tees.pk, 1)]
    assert _refunded(order) == Decimal("30.00")
    assert _reload(order).status == "Paid"


def test_a_line_cannot_be_refunded_more_times_than_it_was_bought(staff_client, fan, p6_catalogue, stripe_peer):
    # given a paid order of a T-shirt (30.00) and a pin (8.00) whose pin was already refunded
    order, _ = place_order(fan, skus=(("P6-TEE-BLK-M", 1), ("P6-PIN", 1)))
    order = _pay(order)
    pin = order.lines.get(partner_sku="P6-PIN")
    assert staff_client.post(_url(order), _form("lines", **{f"line_{pin.pk}": "1"})).status_code == 302
    before = shop_rows()

    # when staff refund the pin again (the money left, 30.00, would cover it)
    response = staff_client.post(_url(order), _form("lines", **{f"line_{pin.pk}": "1"}))

    # then it is refused, and nothing is written here or at Stripe
    assert response.status_code == 400
    assert ("Cannot refund 1 × P6 Enamel Pin: 1 of the 1 bought already refunded."
            in response.context["form"].non_field_errors())
    assert shop_rows() == before
    assert _stripe_refunds(stripe_peer) == 1
    assert _refunded(order) == Decimal("8.00")


@pytest.mark.parametrize(
    "form, message",
    [
        ({"scope": "amount", "amount": "30.01"},
         "Cannot refund 30.01 USD: only 30.00 USD of the 30.00 captured is left to refund."),
        ({"scope": "amount", "amount": "0"}, "Ensure this value is greater than or equal to 0.01."),
        ({"scope": "amount", "amount": "1.001"}, "Enter at most 2 decimal places for USD."),
        ({"scope": "amount"}, "Enter the amount to refund."),
        ({"scope": "lines"}, "Choose at least one item to refund."),
        ({"scope": "everything"}, "Select a valid choice. everything is not one of the available choices."),
        ({"scope": "whole", "request_id": "'; DROP TABLE payments_stripe_refund; --"}, "Enter a valid value."),
    ],
    ids=["more than captured", "zero", "finer than a cent", "no amount", "no lines", "unknown scope", "bad request id"],
)
def test_refund_request_that_must_not_reach_stripe_is_refused(staff_client, paid_order, stripe_peer, form, message):
    # given a paid order of 30.00
    before = shop_rows()

    # when staff post a refund that cannot be made
    response = staff_client.post(_url(paid_order), {**_form(form["scope"]), **form})

    # then the form says why, and nothing is written here or at Stripe
    assert response.status_code == 400
    assert message in [error for errors in response.context["form"].errors.values() for error in errors]
    assert shop_rows() == before
    assert _stripe_refunds(stripe_peer) == 0


def test_refund_more_than_is_left_after_a_partial_refund_is_refused(staff_client, paid_order, stripe_peer):
    # given a paid order of 30.00 of which 20.00 is already refunded
    assert staff_client.post(_url(paid_order), _form("amount", amount="20.00")).status_code == 302
    before = shop_rows()

    # when staff try to refund 10.01 more, or both T-shirt lines' worth
    response = staff_client.post(_url(paid_order), _form("amount", amount="10.01"))
    line = paid_order.lines.get()
    by_line = staff_client.post(_url(paid_order), _form("lines", **{f"line_{line.pk}": "1"}))

    # then both are refused with the amount left, and nothing is written
    for refused in (response, by_line):
        assert refused.status_code == 400
        assert "only 10.00 USD of the 30.00 captured is left to refund." in refused.content.decode()
    assert shop_rows() == before
    assert _stripe_refunds(stripe_peer) == 1


def test_refund_of_an_unpaid_order_is_refused(staff_client, fan, p6_catalogue, stripe_peer):
    # given an order still pending payment
    order, _ = place_order(fan)
    before = shop_rows()

    # when staff try to refund it, whole or an amount
    whole = staff_client.post(_url(order), _form("whole"))
    amount = staff_client.post(_url(order), _form("amount", amount="1.00"))

    # then it is refused and nothing is written
    for response in (whole, amount):
        assert response.status_code == 400
        assert f"Order {order.number} has not been paid." in response.content.decode()
    assert shop_rows() == before
    assert _stripe_refunds(stripe_peer) == 0


def test_anonymous_visitor_is_sent_to_log_in(client, paid_order, stripe_peer):
    # given a paid order and a visitor who is not logged in
    before = shop_rows()

    # when they open or post the refund page
    page = client.get(_url(paid_order))
    post = client.post(_url(paid_order), _form("whole"))

    # then both redirect to the login page and nothing is refunded
    for response in (page, post):
        assert response.status_code == 302
        assert response["Location"] == reverse("dashboard:login") + "?next=" + _url(paid_order)
    assert shop_rows() == before
    assert _stripe_refunds(stripe_peer) == 0


def test_customer_has_no_access(client, django_user_model, paid_order, stripe_peer):
    # given a paid order and a logged-in customer who is not staff
    client.force_login(django_user_model.objects.create_user(username="fan", email="f@example.org", password="x"))
    before = shop_rows()

    # when they open or post the refund page, then access is denied and nothing is refunded
    assert client.get(_url(paid_order)).status_code == 403
    assert client.post(_url(paid_order), _form("whole")).status_code == 403
    assert shop_rows() == before
    assert _stripe_refunds(stripe_peer) == 0


def test_refund_page_of_an_unknown_order_is_404(staff_client, db):
    assert staff_client.get(reverse("payments-dashboard:order-refund", kwargs={"number": "999999"})).status_code == 404


def test_webhook_arriving_before_the_api_answer_is_recorded_once(client, paid_order, stripe_peer):
    # given a refund reserved by the dashboard (as start_refund does) and made at Stripe under its request id
    request_id = uuid.uuid4().hex
    reservation = StripeRefund.objects.create(order=paid_order, request_id=request_id, amount=Decimal("10.00"),
                                              currency="USD")
    gateway = get_gateway()
    intent_id = Source.objects.get(order=paid_order).reference
    refund = gateway.create_refund(payment_intent_id=intent_id, amount=Decimal("10.00"), currency="USD",
                                   idempotency_key=f"refund:{paid_order.number}:{request_id}",
                                   metadata={"order_number": paid_order.number, "request_id": request_id})

    # when Stripe's charge.refunded webhook arrives before the API answer is handled
    charge_id = gateway.retrieve_intent(intent_id).latest_charge_id
    assert signed_post(client, charge_refunded_event(stripe_peer.url, charge_id)).status_code == 200

    # then the reservation itself is recorded, no second row
    reservation.refresh_from_db()
    assert (reservation.refund_id, reservation.status) == (refund.id, StripeRefund.SUCCEEDED)
    assert reservation.recorded_at is not None
    before = shop_rows()

    # when the API answer is handled afterwards
    row = services.record_refund(order=paid_order, refund=refund)

    # then it finds the refund recorded: one row, one payment event, 10.00 refunded
    assert row.pk == reservation.pk
    assert shop_rows() == before
    assert StripeRefund.objects.count() == 1
    assert PaymentEvent.objects.filter(event_type__name="Refunded").count() == 1
    assert _refunded(paid_order) == Decimal("10.00")


def test_webhook_racing_the_dashboard_refund_records_once(staff_client, paid_order, stripe_peer, monkeypatch):
    # given Stripe delivering charge.refunded while the dashboard still waits for the refund's API answer
    webhook_client = Client()
    real_create_refund = StripeGateway.create_refund

    def create_refund_then_deliver_webhook(self, **kwargs):
        refund = real_create_refund(self, **kwargs)
        charge_refunded = charge_refunded_event(stripe_peer.url, refund.charge_id)
        assert signed_post(webhook_client, charge_refunded).status_code == 200
        return refund

    monkeypatch.setattr(StripeGateway, "create_refund", create_refund_then_deliver_webhook)

    # when staff refund 10.00
    response = staff_client.post(_url(paid_order), _form("amount", amount="10.00"))

    # then one refund at Stripe, recorded once
    assert response.status_code == 302
    assert _stripe_refunds(stripe_peer) == 1
    row = StripeRefund.objects.get()
    assert (row.amount, row.status) == (Decimal("10.00"), StripeRefund.SUCCEEDED)
    assert PaymentEvent.objects.filter(event_type__name="Refunded").count() == 1
    assert _refunded(paid_order) == Decimal("10.00")


def test_stripe_unreachable_keeps_the_reservation_and_the_same_form_finishes_it_once(staff_client, paid_order,
                                                                                   stripe_peer, settings):
    # given Stripe cannot be reached
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"
    form = _form("amount", amount="10.00")

    # when staff refund 10.00
    response = staff_client.post(_url(paid_order), form)

    # then they are told Stripe did not answer; whether it refunded is unknown, so the 10.00 stays reserved
    # (never refundable twice) and nothing is recorded as refunded
    assert response.status_code == 400
    assert "Stripe did not answer" in response.content.decode()
    row = StripeRefund.objects.get()
    assert (row.status, row.refund_id, row.recorded_at) == (StripeRefund.REQUESTED, None, None)
    assert row.error.startswith("Could not reach Stripe")
    assert response.context["left"] == TOTAL - Decimal("10.00")
    assert _refunded(paid_order) == Decimal("0.00")
    assert _reload(paid_order).status == "Paid"

    # when Stripe is back and the same form is posted again
    settings.STRIPE_API_BASE = stripe_peer.url
    again = staff_client.post(_url(paid_order), form)

    # then the refund is made once, on the same request
    assert again.status_code == 302
    assert _stripe_refunds(stripe_peer) == 1
    row = StripeRefund.objects.get()
    assert (row.request_id, row.amount, row.status) == (form["request_id"], Decimal("10.00"), StripeRefund.SUCCEEDED)
    assert _refunded(paid_order) == Decimal("10.00")
