"""One live PaymentIntent per order (DESIGN "A sale, end to end" step 3, issue 11 (a)-(d)), against the
Stripe-shaped fake: no second click, second tab, lost answer or cancellation can charge a fan twice or charge
a cancelled order; and the card-testing limits. The thread races run on PostgreSQL only."""

import time
from decimal import Decimal

import pytest
from django.urls import reverse
from oscar.core.loading import get_model

from fundraising.models import LedgerTransaction
from fundraising.verification import ledger_violations
from shop.payments import services
from shop.payments.models import ExcessPayment, PaymentAttempt
from tests.concurrency import support
from tests.payments.conftest import place_order
from tests.racing import race

Order = get_model("order", "Order")
Source = get_model("payment", "Source")

TOTAL = Decimal("30.00")



def _pay(client, order, remote_addr="127.0.0.1", **data):
    return client.post(reverse("checkout:pay", kwargs={"order_number": order.number}), data,
                       HTTP_ACCEPT="application/json", REMOTE_ADDR=remote_addr)


def _charges(fake, order_number, status="succeeded"):
    return [c for c in fake.objects("charge") if c["status"] == status and
            c["metadata"].get("order_number") == str(order_number)]


def _assert_charged_once(fake, order):
    """Exactly one succeeded charge at Stripe, and it is the booked one; one sale; a clean ledger."""
    order.refresh_from_db()
    [charge] = _charges(fake, order.number)
    booked = PaymentAttempt.objects.get(order=order, booked=True)
    assert charge["payment_intent"] == booked.intent_id
    assert (order.status, Source.objects.get(order=order).amount_debited) == ("Paid", TOTAL)
    assert ExcessPayment.objects.filter(order=order).count() == 0
    assert LedgerTransaction.objects.filter(order=order, kind="sale").count() == 1
    assert list(ledger_violations()) == []


def test_a_abandoned_3ds_then_another_card_then_the_late_3ds_cannot_charge(client, placed_order, fake_stripe,
                                                                          campaign):
    # given tab 1 asked for 3D Secure and the fan left it open
    first = _pay(client, placed_order, payment_method="pm_card_threeDSecure2Required")
    assert first.json()["status"] == "requires_action"
    intent_1 = first.json()["intent"]
    # when tab 2 pays with another card
    second = _pay(client, placed_order, payment_method="pm_card_visa")
    # then the first intent was cancelled at Stripe before the second was made, and the order is paid
    assert second.json()["status"] == "succeeded"
    assert [i["status"] for i in fake_stripe.objects("payment_intent")] == ["canceled", "succeeded"]
    # when the fan completes 3D Secure in tab 1 afterwards, then Stripe refuses (the intent is cancelled)
    with pytest.raises(Exception, match="canceled"):
        fake_stripe.complete_3ds(intent_1)
    late = _pay(client, placed_order, intent=intent_1)
    assert (late.status_code, late.json()["status"]) == (200, "succeeded")  # the order is paid: tab 1 says so
    _assert_charged_once(fake_stripe, placed_order)


def test_a_3ds_completed_just_before_the_other_tab_pays_is_booked_and_nothing_new_is_charged(
        client, placed_order, fake_stripe, campaign):
    # given tab 1's 3D Secure completed at Stripe, but the shop has not heard of it yet
    intent_1 = _pay(client, placed_order, payment_method="pm_card_threeDSecure2Required").json()["intent"]
    fake_stripe.complete_3ds(intent_1)
    # when tab 2 pays with another card
    response = _pay(client, placed_order, payment_method="pm_card_visa")
    # then the succeeded intent is booked and no second intent is made
    assert response.json()["status"] == "succeeded"
    assert len(fake_stripe.objects("payment_intent")) == 1
    _assert_charged_once(fake_stripe, placed_order)


def test_b_a_lost_confirmation_answer_never_leads_to_a_second_charge(client, placed_order, fake_stripe, campaign):
    # given Stripe charged the card but its answer to the confirmation was lost
    fake_stripe.fault("POST", "/confirm$", "lose_answer")
    lost = _pay(client, placed_order, payment_method="pm_card_visa")
    # then the fan is not told "no payment was taken"
    assert lost.status_code == 503
    assert "never be charged twice" in lost.json()["message"]
    assert "no payment was taken" not in lost.json()["message"]
    # when the fan pays again
    again = _pay(client, placed_order, payment_method="pm_card_visa")
    # then the shop asked Stripe first, found the charge and booked it: one intent, one charge
    assert again.json()["status"] == "succeeded"
    assert len(fake_stripe.objects("payment_intent")) == 1
    assert [r["path"].rsplit("/", 1)[-1] for r in fake_stripe.requests(method="POST")] == [
        "payment_intents", "confirm"]
    _assert_charged_once(fake_stripe, placed_order)


def test_b_a_lost_create_answer_is_found_by_its_key_and_cancelled_before_the_next_intent(client, placed_order,
                                                                                          fake_stripe, campaign):
    # given Stripe made the intent but the answer to the create was lost
    fake_stripe.fault("POST", "^/v1/payment_intents$", "lose_answer")
    assert _pay(client, placed_order, payment_method="pm_card_visa").status_code == 503
    assert PaymentAttempt.objects.get(order=placed_order).intent_id is None
    # when the fan pays again
    assert _pay(client, placed_order, payment_method="pm_card_visa").json()["status"] == "succeeded"
    # then the lost intent was found with the same key (pi:<order>:1), cancelled, and attempt 2 paid
    keys = [r["idempotency_key"] for r in fake_stripe.requests(method="POST", path="/v1/payment_intents")
            if r["path"] == "/v1/payment_intents"]
    assert keys == [f"pi:{placed_order.number}:1", f"pi:{placed_order.number}:1", f"pi:{placed_order.number}:2"]
    assert [i["status"] for i in fake_stripe.objects("payment_intent")] == ["canceled", "succeeded"]
    _assert_charged_once(fake_stripe, placed_order)


def test_c_a_second_pay_request_while_one_is_in_progress_is_told_so_and_charges_nothing(client, placed_order,
                                                                                        fake_stripe):
    # given a pay request holding the order's payment lease (talking to Stripe right now)
    lease = services.PaymentAttempt.objects.create(order=placed_order, number=1, amount=TOTAL, currency="USD",
                                                   status=PaymentAttempt.PAYING)
    # when a second request arrives (page and API)
    page = _pay(client, placed_order, payment_method="pm_card_visa")
    api = client.post(f"/api/p6/orders/{placed_order.number}/pay/", {"payment_method": "pm_card_visa"},
                      content_type="application/json")
    # then both are told a payment is in progress (409), and Stripe was not called
    assert (page.status_code, page.json()["status"]) == (409, "in_progress")
    assert (api.status_code, api.json()["status"]) == (409, "in_progress")
    assert "already in progress" in page.json()["message"]
    assert fake_stripe.requests() == []
    assert PaymentAttempt.objects.filter(order=placed_order).count() == 1
    # and a lease left by a request that died expires: the next request pays
    PaymentAttempt.objects.filter(pk=lease.pk).update(created_at=lease.created_at.replace(year=2000))
    assert _pay(client, placed_order, payment_method="pm_card_visa").json()["status"] == "succeeded"


def test_d_cancellation_cancels_a_pending_3ds_at_stripe_so_it_can_never_charge(client, placed_order, fake_stripe):
    # given a fan in the middle of 3D Secure when the order times out
    intent_1 = _pay(client, placed_order, payment_method="pm_card_threeDSecure2Required").json()["intent"]
    # when the order is cancelled
    assert services.cancel_unpaid_order(order=Order.objects.get(pk=placed_order.pk)) == "cancelled"
    # then the intent was cancelled at Stripe first; completing 3D Secure is refused; the fan is told so
    assert fake_stripe.objects("payment_intent")[0]["status"] == "canceled"
    with pytest.raises(Exception, match="canceled"):
        fake_stripe.complete_3ds(intent_1)
    late = _pay(client, placed_order, intent=intent_1)
    assert late.json()["status"] == "declined"
    refused = _pay(client, placed_order, payment_method="pm_card_visa")
    assert (refused.status_code, refused.json()["status"]) == (409, "not_payable")
    assert _charges(fake_stripe, placed_order.number) == []
    assert Order.objects.get(pk=placed_order.pk).status == "Cancelled"


def test_d_a_cancellation_while_a_payment_is_in_progress_skips_the_order(placed_order, fake_stripe):
    PaymentAttempt.objects.create(order=placed_order, number=1, amount=TOTAL, currency="USD",
                                  status=PaymentAttempt.PAYING)
    assert services.cancel_unpaid_order(order=placed_order) == "skipped"
    assert Order.objects.get(pk=placed_order.pk).status == "Pending payment"
    assert fake_stripe.requests() == []


def test_d_a_payment_that_succeeded_at_stripe_is_captured_instead_of_cancelled(client, placed_order, fake_stripe,
                                                                               campaign):
    intent_1 = _pay(client, placed_order, payment_method="pm_card_threeDSecure2Required").json()["intent"]
    fake_stripe.complete_3ds(intent_1)
    assert services.cancel_unpaid_order(order=placed_order) == "captured"
    _assert_charged_once(fake_stripe, placed_order)


# --- card testing -------------------------------------------------------------------------------------


def test_five_declines_for_an_order_then_a_clear_refusal_without_asking_stripe(client, placed_order, fake_stripe,
                                                                              settings):
    settings.SHOP_PAY_FAILURES_PER_ORDER = 5
    for _ in range(5):
        assert _pay(client, placed_order, payment_method="pm_card_chargeDeclined").status_code == 402
    requests_before = len(fake_stripe.requests())
    # when a sixth card is tried on the page and over the API
    page = _pay(client, placed_order, payment_method="pm_card_visa")
    api = client.post(f"/api/p6/orders/{placed_order.number}/pay/", {"payment_method": "pm_card_visa"},
                      content_type="application/json")
    # then 429 with a message, and Stripe was not asked
    assert (page.status_code, page.json()["status"]) == (429, "too_many_attempts")
    assert (api.status_code, api.json()["status"]) == (429, "too_many_attempts")
    assert "try again in an hour" in page.json()["message"]
    assert len(fake_stripe.requests()) == requests_before
    assert PaymentAttempt.objects.filter(order=placed_order).count() == 5


def test_twenty_declines_from_one_address_across_orders_then_a_refusal(client, p6_catalogue, fake_stripe,
                                                                       settings):
    settings.SHOP_PAY_FAILURES_PER_ADDRESS = 20
    orders = [place_order(client, email=f"fan{n}@example.org")[0] for n in range(5)]
    client_hash = services.paying.client_hash("127.0.0.1")
    for n, order in enumerate(orders[:4]):
        for k in range(5 if n < 4 else 0):
            PaymentAttempt.objects.create(order=order, number=k + 1, intent_id=f"pi_old_{n}_{k}", amount=TOTAL,
                                          currency="USD", status=PaymentAttempt.FAILED, declined=True,
                                          client_hash=client_hash)
    # when a fifth order is paid from the same address (the test client's REMOTE_ADDR)
    response = _pay(client, orders[4], payment_method="pm_card_visa")
    assert (response.status_code, response.json()["status"]) == (429, "too_many_attempts")
    assert fake_stripe.requests() == []
    # and from another address it goes through
    other = _pay(client, orders[4], payment_method="pm_card_visa", remote_addr="203.0.113.9")
    assert other.json()["status"] == "succeeded"
    assert PaymentAttempt.objects.get(order=orders[4], booked=True).client_hash == \
        services.paying.client_hash("203.0.113.9")


def test_the_fans_email_reaches_stripe_for_radar(client, placed_order, fake_stripe):
    _pay(client, placed_order, payment_method="pm_card_visa")
    [create] = [r for r in fake_stripe.requests(method="POST") if r["path"] == "/v1/payment_intents"]
    assert create["params"]["receipt_email"] == "fan@example.org"


# --- the races, with real concurrent connections ---------------------------------------------------------


@support.postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_c_two_pay_requests_at_once_charge_once(fake_stripe):
    # given an order, and a Stripe that takes a second to confirm
    support.load_shop()
    order = support.pending_order()
    fake_stripe.fault("POST", "/confirm$", "hang", times=None, seconds=1)

    def pay():
        return services.answer_pay_request(order=Order.objects.get(pk=order.pk), payment_method="pm_card_visa",
                                           client_address="127.0.0.1")

    def pay_a_moment_later():
        time.sleep(0.2)
        return pay()

    # when two pay requests arrive 0.2 s apart
    first, second = race(pay, pay_a_moment_later)
    # then one pays and the other is told a payment is in progress; one charge at Stripe
    assert sorted((first.status, second.status)) == ["in_progress", "succeeded"], (first, second)
    _assert_charged_once(fake_stripe, order)


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
    charges = _charges(fake_stripe, order.number)
    if pay_first:
        # the cancellation found the payment in progress and left the order
        assert (paid.status, cancelled) == ("succeeded", "skipped")
        _assert_charged_once(fake_stripe, order)
    else:
        # the payment found the cancellation in progress: nothing charged, the order cancelled, stock released
        assert (paid.status, cancelled) == ("in_progress", "cancelled")
        assert (order.status, charges) == ("Cancelled", [])
        assert list(order.lines.values_list("num_allocated", flat=True)) == [0]


def test_staff_see_excess_payments_on_the_order_page_and_in_their_list(client, staff_client, placed_order,
                                                                      fake_stripe, campaign,
                                                                      django_capture_on_commit_callbacks):
    # given a paid order and a second charge for it (attempt 2, made by hand at Stripe: e.g. a late worker)
    assert _pay(client, placed_order, payment_method="pm_card_visa").json()["status"] == "succeeded"
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
    assert list(staff_client.get(reverse("payments-dashboard:excess-list") + "?open=1").context["excess_payments"]) == []
