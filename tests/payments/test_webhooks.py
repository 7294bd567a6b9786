"""The Stripe webhook endpoint end to end: signed events of Stripe's exact shape, through the real
verification path, against a localstripe peer that the endpoint asks again about every object.

localstripe never sends refund, charge or dispute events, so every event here is built by
tests/payments/events.py and signed with the webhook secret; disputes, which localstripe does not
have at all, are the one place where the gateway's `retrieve_dispute` is replaced.
"""

import base64
import json
import time
from decimal import Decimal

import pytest
from oscar.core.loading import get_model

from shop.payments import services, webhooks
from shop.payments.services import capture as capture_module
from shop.payments.gateway import StripeGateway
from shop.payments.models import ExcessPayment, PaymentAttempt, StripeEvent, StripeRefund
from shop.payments.signing import sign_webhook_payload
from tests.payments.conftest import WEBHOOK_SECRET
from tests.payments.events import (
    charge_refunded_event,
    dispute_event,
    dispute_object,
    dispute_of,
    event,
    intent_event,
    intent_object,
    paid_at_stripe_only,
    post_body,
    record_attempt,
    shop_rows,
    signed_post,
)
from tests.stripe_peer import free_port

Order = get_model("order", "Order")
OrderNote = get_model("order", "OrderNote")
PaymentEvent = get_model("order", "PaymentEvent")
Source = get_model("payment", "Source")

TOTAL = Decimal("30.00")  # one black M T-shirt, free shipping, no tax


def _reload(order):
    return Order.objects.get(pk=order.pk)


def _paid_events(order):
    return list(PaymentEvent.objects.filter(order=order, event_type__name="Paid").values_list("amount", "reference"))


def _stored(event_dict):
    return StripeEvent.objects.get(event_id=event_dict["id"])


def _paid_order(order, gateway):
    """The order paid the ordinary way: the fan's card through pay_order (the synchronous path)."""
    outcome = services.pay_order(order=order, payment_method="pm_card_visa", gateway=gateway)
    assert outcome.status == "succeeded"
    return _reload(order), outcome.attempt.intent_id


# --- payment_intent.succeeded ---------------------------------------------------------------------


def test_intent_succeeded_marks_the_order_paid_when_only_stripe_knew(client, placed_order, shop_gateway, stripe_peer):
    # given an order whose payment succeeded at Stripe while the shop wrote only the attempt
    intent = paid_at_stripe_only(shop_gateway, placed_order)
    assert placed_order.total_incl_tax == TOTAL

    # when Stripe delivers payment_intent.succeeded
    evt = intent_event(stripe_peer.url, "payment_intent.succeeded", intent.id)
    response = signed_post(client, evt)

    # then the order is paid once, for exactly its total
    assert response.status_code == 200
    assert response.json() == {"outcome": "processed", "detail": f"order {placed_order.number}: captured"}
    order = _reload(placed_order)
    assert order.status == "Paid"
    source = Source.objects.get(order=order)
    assert (source.amount_allocated, source.amount_debited, source.amount_refunded) == (TOTAL, TOTAL, Decimal("0.00"))
    assert (source.reference, source.currency) == (intent.id, "USD")
    assert _paid_events(order) == [(TOTAL, intent.id)]
    assert PaymentAttempt.objects.get(intent_id=intent.id).status == PaymentAttempt.SUCCEEDED
    stored = _stored(evt)
    assert (stored.type, stored.object_id, stored.outcome, stored.deliveries) == (
        "payment_intent.succeeded", intent.id, StripeEvent.PROCESSED, 1)
    assert stored.payload == evt
    assert stored.processed_at is not None


def test_intent_succeeded_delivered_twice_has_one_effect(client, placed_order, shop_gateway, stripe_peer):
    # given an order paid at Stripe, whose succeeded event was delivered and processed
    intent = paid_at_stripe_only(shop_gateway, placed_order)
    evt = intent_event(stripe_peer.url, "payment_intent.succeeded", intent.id)
    assert signed_post(client, evt).status_code == 200
    before = shop_rows()

    # when Stripe delivers the same event again
    response = signed_post(client, evt)

    # then it answers 200 and writes nothing but the delivery count
    assert response.status_code == 200
    assert response.json() == {"outcome": "duplicate", "detail": "processed"}
    after = shop_rows()
    assert after.pop("stripe_events") == [(evt["id"], StripeEvent.PROCESSED, 2)]
    before.pop("stripe_events")
    assert after == before
    assert Source.objects.count() == 1
    assert len(_paid_events(placed_order)) == 1


def test_intent_succeeded_after_the_synchronous_capture_adds_nothing(client, placed_order, shop_gateway, stripe_peer):
    # given an order the fan paid on the payment page (the synchronous path captured it)
    order, intent_id = _paid_order(placed_order, shop_gateway)
    assert order.status == "Paid"
    before = shop_rows()

    # when the webhook for the same intent arrives afterwards
    evt = intent_event(stripe_peer.url, "payment_intent.succeeded", intent_id)
    response = signed_post(client, evt)

    # then it is processed as already captured: only the event row is new
    assert response.status_code == 200
    assert response.json() == {"outcome": "processed", "detail": f"order {order.number}: already_captured"}
    after = shop_rows()
    assert after.pop("stripe_events") == [(evt["id"], StripeEvent.PROCESSED, 1)]
    assert before.pop("stripe_events") == []
    assert after == before
    assert [s.amount_debited for s in Source.objects.filter(order=order)] == [TOTAL]
    assert _paid_events(order) == [(TOTAL, intent_id)]


def test_intent_succeeded_is_checked_with_stripe_not_trusted_from_the_payload(client, placed_order, shop_gateway,
                                                                                stripe_peer):
    # given an intent of ours that has not been paid, and an event whose payload claims it succeeded
    intent = shop_gateway.create_intent(amount=TOTAL, currency="USD", order_number=placed_order.number, attempt=1)
    record_attempt(placed_order, intent)
    obj = intent_object(stripe_peer.url, intent.id)
    obj.update(status="succeeded", amount_received=3000)
    evt = event("payment_intent.succeeded", obj)
    before = shop_rows()

    # when it is delivered
    response = signed_post(client, evt)

    # then Stripe, asked again, says otherwise: ignored, the order stays payable
    assert response.status_code == 200
    assert response.json() == {"outcome": "ignored", "detail": f"intent {intent.id} is requires_payment_method now"}
    after = shop_rows()
    assert after.pop("stripe_events") == [(evt["id"], StripeEvent.IGNORED, 1)]
    before.pop("stripe_events")
    assert after == before
    assert _reload(placed_order).status == "Pending payment"


# --- payment_intent.payment_failed ----------------------------------------------------------------


def test_intent_payment_failed_marks_the_attempt_failed_and_the_order_stays_payable(client, placed_order,
                                                                                    shop_gateway, stripe_peer):
    # given an attempt of ours whose card was declined at Stripe
    intent = shop_gateway.create_intent(amount=TOTAL, currency="USD", order_number=placed_order.number, attempt=1)
    record_attempt(placed_order, intent)
    with pytest.raises(services.CardDeclined):
        shop_gateway.confirm_intent(intent.id, payment_method="pm_card_chargeCustomerFail")

    # when Stripe delivers payment_intent.payment_failed
    evt = intent_event(stripe_peer.url, "payment_intent.payment_failed", intent.id)
    response = signed_post(client, evt)

    # then the attempt is failed with Stripe's message and nothing was paid
    assert response.status_code == 200
    assert response.json()["outcome"] == "processed"
    attempt = PaymentAttempt.objects.get(intent_id=intent.id)
    assert (attempt.status, attempt.last_error) == (PaymentAttempt.FAILED, "Your card was declined.")
    assert _reload(placed_order).status == "Pending payment"
    assert Source.objects.count() == 0
    assert PaymentEvent.objects.count() == 0
    assert _stored(evt).outcome == StripeEvent.PROCESSED

    # and the fan can pay again with another card: a new attempt, a new intent
    outcome = services.pay_order(order=_reload(placed_order), payment_method="pm_card_visa", gateway=shop_gateway)
    assert (outcome.status, outcome.attempt.number) == ("succeeded", 2)
    assert outcome.attempt.intent_id != intent.id
    assert _reload(placed_order).status == "Paid"


# --- hostile input: nothing written ---------------------------------------------------------------


def _sign(body, **kwargs):
    return sign_webhook_payload(payload=body, secret=WEBHOOK_SECRET, **kwargs)


@pytest.mark.parametrize(
    "case, status, detail",
    [
        ("forged signature", 400, "bad Stripe-Signature"),
        ("stale timestamp", 400, "bad Stripe-Signature"),
        ("missing header", 400, "missing Stripe-Signature header"),
        ("empty header", 400, "missing Stripe-Signature header"),
        ("body changed after signing", 400, "bad Stripe-Signature"),
        ("malformed JSON, signed", 400, "body is not JSON"),
        ("JSON that is not an event, signed", 400, "body is not a Stripe snapshot event"),
        ("oversized body, signed", 413, "body too large"),
    ],
)
def test_rejected_webhook_writes_nothing(client, placed_order, shop_gateway, stripe_peer, case, status, detail):
    # given an order paid at Stripe whose genuine event would mark it paid
    intent = paid_at_stripe_only(shop_gateway, placed_order)
    genuine = intent_event(stripe_peer.url, "payment_intent.succeeded", intent.id)
    body = json.dumps(genuine).encode()
    oversized = dict(genuine, data={"object": dict(genuine["data"]["object"], metadata={"pad": "x" * 262_144})})
    oversized_body = json.dumps(oversized).encode()
    body, signature = {
        "forged signature": (body, sign_webhook_payload(payload=body, secret="whsec_not_ours")),
        "stale timestamp": (body, _sign(body, timestamp=int(time.time()) - 301)),
        "missing header": (body, None),
        "empty header": (body, ""),
        "body changed after signing": (body.replace(b'"livemode": false', b'"livemode": true'), _sign(body)),
        "malformed JSON, signed": (body[:-1], _sign(body[:-1])),
        "JSON that is not an event, signed": (b'{"id": "evt_x", "object": "event"}',
                                              _sign(b'{"id": "evt_x", "object": "event"}')),
        "oversized body, signed": (oversized_body, _sign(oversized_body)),
    }[case]
    before = shop_rows()

    # when it is posted
    response = post_body(client, body, signature=signature)

    # then it is refused and nothing at all is written
    assert response.status_code == status
    assert response.json()["outcome"] == "rejected"
    assert response.json()["detail"].startswith(detail)
    assert shop_rows() == before
    assert StripeEvent.objects.count() == 0
    assert _reload(placed_order).status == "Pending payment"


def test_unparseable_content_length_is_refused_and_writes_nothing(client, placed_order, shop_gateway, stripe_peer):
    # given a genuine, signed event sent with a Content-Length that is not a number
    intent = paid_at_stripe_only(shop_gateway, placed_order)
    body = json.dumps(intent_event(stripe_peer.url, "payment_intent.succeeded", intent.id)).encode()
    signature = _sign(body)
    before = shop_rows()

    # when it is posted
    response = post_body(client, body, signature=signature, CONTENT_LENGTH="12abc")

    # then it is a bad request, not a server error, and nothing is written
    assert response.status_code == 400
    assert response.json() == {"outcome": "rejected", "detail": "bad Content-Length"}
    assert shop_rows() == before


def test_webhook_answers_only_post(client, db):
    # given the endpoint, when it is fetched with GET, then it is refused and nothing is stored
    assert client.get("/payments/stripe/webhook/").status_code == 405
    assert StripeEvent.objects.count() == 0


def test_unknown_event_type_is_stored_once_and_ignored(client, placed_order, stripe_peer):
    # given a correctly signed event of a type the shop does not handle
    customer = {"id": "cus_PZ0dE2x5Yh1Q7b", "object": "customer", "created": int(time.time()),
                "email": "fan@example.org", "livemode": False, "metadata": {}}
    evt = event("customer.created", customer)
    before = shop_rows()

    # when it is delivered twice
    first = signed_post(client, evt)
    second = signed_post(client, evt)

    # then both answers are 200, it is stored once as ignored, and nothing else is written
    assert first.status_code == 200
    assert first.json() == {"outcome": "ignored", "detail": "event type customer.created is not handled"}
    assert second.status_code == 200
    assert second.json() == {"outcome": "duplicate", "detail": "ignored"}
    stored = StripeEvent.objects.get()
    assert (stored.event_id, stored.type, stored.object_id, stored.outcome, stored.deliveries) == (
        evt["id"], "customer.created", "cus_PZ0dE2x5Yh1Q7b", StripeEvent.IGNORED, 2)
    after = shop_rows()
    after.pop("stripe_events"), before.pop("stripe_events")
    assert after == before


def test_intent_that_is_not_ours_is_ignored(client, placed_order, shop_gateway, stripe_peer):
    # given an intent paid at Stripe that no attempt of this shop made (another integration on the account)
    theirs = shop_gateway.create_intent(amount=TOTAL, currency="USD", order_number=placed_order.number, attempt=9)
    theirs = shop_gateway.confirm_intent(theirs.id, payment_method="pm_card_visa")
    assert theirs.status == "succeeded"
    evt = intent_event(stripe_peer.url, "payment_intent.succeeded", theirs.id)
    before = shop_rows()

    # when its succeeded event is delivered
    response = signed_post(client, evt)

    # then it is acknowledged as ignored and nothing happens to any order
    assert response.status_code == 200
    assert response.json() == {"outcome": "ignored", "detail": f"payment intent {theirs.id} is not ours"}
    after = shop_rows()
    assert after.pop("stripe_events") == [(evt["id"], StripeEvent.IGNORED, 1)]
    before.pop("stripe_events")
    assert after == before
    assert _reload(placed_order).status == "Pending payment"


@pytest.mark.parametrize(
    "amount, currency",
    [(Decimal("25.00"), "USD"), (Decimal("30.00"), "EUR")],
    ids=["amount differs", "currency differs"],
)
def test_amount_or_currency_mismatch_is_never_marked_paid(client, placed_order, shop_gateway, stripe_peer,
                                                          amount, currency, django_capture_on_commit_callbacks):
    # given an intent of ours that took another amount or currency than the order's 30.00 USD
    intent = paid_at_stripe_only(shop_gateway, placed_order, amount=amount, currency=currency)
    evt = intent_event(stripe_peer.url, "payment_intent.succeeded", intent.id)

    # when its succeeded event is delivered, twice
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_post(client, evt)
        replay = signed_post(client, evt)

    # then the answer is 200 (nothing for Stripe to retry) but the order is not paid: the money is an excess
    # payment, refunded through Stripe once, and staff get one note
    assert response.status_code == 200
    assert response.json() == {"outcome": "processed", "detail": f"order {placed_order.number}: excess"}
    assert replay.json() == {"outcome": "duplicate", "detail": "processed"}
    order = _reload(placed_order)
    assert order.status == "Pending payment"
    assert Source.objects.count() == 0
    assert PaymentEvent.objects.count() == 0
    note = OrderNote.objects.get(order=order)
    assert note.message == (
        f"Stripe payment {intent.id} of {amount} {currency} is not this order's payment (captured {amount} "
        f"{currency} but the order total is 30.00 USD): recorded as an excess payment and refunded through Stripe."
    )
    excess = ExcessPayment.objects.get()
    assert (excess.intent_id, excess.amount, excess.currency, excess.status, excess.refunded_amount) == (
        intent.id, amount, currency, "refunded", amount)


def test_processing_failure_answers_500_and_the_retry_processes_once(client, placed_order, shop_gateway,
                                                                      stripe_peer, settings):
    # given an order paid at Stripe and its succeeded event
    intent = paid_at_stripe_only(shop_gateway, placed_order)
    evt = intent_event(stripe_peer.url, "payment_intent.succeeded", intent.id)
    before = shop_rows()

    # when it is delivered while Stripe cannot be reached to ask about the intent again
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"
    failed = signed_post(client, evt)

    # then the answer is 500 so Stripe retries, the event is stored as failed, and the order is untouched
    assert failed.status_code == 500
    assert failed.json() == {"outcome": "failed", "detail": "processing failed; Stripe will retry"}
    stored = _stored(evt)
    assert (stored.outcome, stored.deliveries) == (StripeEvent.FAILED, 1)
    assert stored.detail.startswith(
        "StripeUnreachable: Could not reach Stripe while trying to retrieve a payment intent")
    after = shop_rows()
    assert after.pop("stripe_events") == [(evt["id"], StripeEvent.FAILED, 1)]
    before.pop("stripe_events")
    assert after == before

    # when Stripe retries once it can be reached again
    settings.STRIPE_API_BASE = stripe_peer.url
    retried = signed_post(client, evt)

    # then it is processed, once
    assert retried.status_code == 200
    assert retried.json()["outcome"] == "processed"
    stored = _stored(evt)
    assert (stored.outcome, stored.deliveries, stored.detail) == (
        StripeEvent.PROCESSED, 2, f"order {placed_order.number}: captured")
    assert _reload(placed_order).status == "Paid"
    assert [s.amount_debited for s in Source.objects.all()] == [TOTAL]
    assert len(_paid_events(placed_order)) == 1


def test_failure_while_writing_rolls_back_and_answers_500(client, placed_order, shop_gateway, stripe_peer,
                                                          monkeypatch):
    # given an order paid at Stripe, and a database failure while the capture is written
    intent = paid_at_stripe_only(shop_gateway, placed_order)
    evt = intent_event(stripe_peer.url, "payment_intent.succeeded", intent.id)
    real_post_sale = capture_module.fundraising.post_sale

    def failing_post_sale(**kwargs):
        raise RuntimeError("ledger unavailable")

    monkeypatch.setattr(capture_module.fundraising, "post_sale", failing_post_sale)
    before = shop_rows()

    # when the event is delivered
    response = signed_post(client, evt)

    # then nothing of the capture is kept, the event is failed and Stripe is told to retry
    assert response.status_code == 500
    stored = _stored(evt)
    assert (stored.outcome, stored.detail) == (StripeEvent.FAILED, "RuntimeError: ledger unavailable")
    after = shop_rows()
    assert after.pop("stripe_events") == [(evt["id"], StripeEvent.FAILED, 1)]
    before.pop("stripe_events")
    assert after == before
    assert PaymentAttempt.objects.get(intent_id=intent.id).status == PaymentAttempt.CREATED

    # when the retry comes after the failure is gone, then it is captured once
    monkeypatch.setattr(capture_module.fundraising, "post_sale", real_post_sale)
    assert signed_post(client, evt).status_code == 200
    assert _reload(placed_order).status == "Paid"
    assert Source.objects.count() == 1
    assert _stored(evt).outcome == StripeEvent.PROCESSED


# --- charge.refunded ------------------------------------------------------------------------------


def _refund_at_stripe(gateway, intent_id, amount, key):
    """A refund made outside the shop (Stripe's dashboard): no request id of ours in its metadata."""
    return gateway.create_refund(payment_intent_id=intent_id, amount=amount, currency="USD", idempotency_key=key)


def _refunded_events(order):
    return sorted(PaymentEvent.objects.filter(order=order, event_type__name="Refunded").values_list("reference",
                                                                                                     "amount"))


def test_refund_made_at_stripe_is_recorded_once(client, placed_order, shop_gateway, stripe_peer):
    # given a paid order and a 10.00 refund made in Stripe's dashboard
    order, intent_id = _paid_order(placed_order, shop_gateway)
    refund = _refund_at_stripe(shop_gateway, intent_id, Decimal("10.00"), "dashboard:1")
    charge_id = shop_gateway.retrieve_intent(intent_id).latest_charge_id

    # when Stripe delivers charge.refunded
    evt = charge_refunded_event(stripe_peer.url, charge_id)
    response = signed_post(client, evt)

    # then the refund is recorded once, exactly, and the order stays paid
    assert response.status_code == 200
    assert response.json() == {"outcome": "processed",
                               "detail": f"order {order.number}: refunds {refund.id}:succeeded"}
    row = StripeRefund.objects.get()
    assert (row.refund_id, row.amount, row.currency, row.status, row.request_id, row.lines) == (
        refund.id, Decimal("10.00"), "USD", StripeRefund.SUCCEEDED, None, {})
    assert row.recorded_at is not None
    source = Source.objects.get(order=order)
    assert (source.amount_debited, source.amount_refunded) == (TOTAL, Decimal("10.00"))
    assert _refunded_events(order) == [(refund.id, Decimal("10.00"))]
    assert _reload(order).status == "Paid"

    # when the same event is delivered again, then nothing new
    before = shop_rows()
    replay = signed_post(client, evt)
    assert replay.status_code == 200
    after = shop_rows()
    assert after.pop("stripe_events") == [(evt["id"], StripeEvent.PROCESSED, 2)]
    before.pop("stripe_events")
    assert after == before


def test_two_refunds_in_one_cumulative_event_are_each_recorded_once(client, placed_order, shop_gateway, stripe_peer):
    # given a paid order with two refunds made at Stripe before any event arrived
    order, intent_id = _paid_order(placed_order, shop_gateway)
    first = _refund_at_stripe(shop_gateway, intent_id, Decimal("10.00"), "dashboard:1")
    second = _refund_at_stripe(shop_gateway, intent_id, Decimal("5.50"), "dashboard:2")
    charge_id = shop_gateway.retrieve_intent(intent_id).latest_charge_id

    # when one charge.refunded arrives whose cumulative amount_refunded (15.50) covers both
    evt = charge_refunded_event(stripe_peer.url, charge_id)
    assert evt["data"]["object"]["amount_refunded"] == 1550
    assert signed_post(client, evt).status_code == 200

    # then each refund is recorded once by its own id
    assert sorted(StripeRefund.objects.values_list("refund_id", "amount", "status")) == sorted([
        (first.id, Decimal("10.00"), StripeRefund.SUCCEEDED), (second.id, Decimal("5.50"), StripeRefund.SUCCEEDED)])
    assert Source.objects.get(order=order).amount_refunded == Decimal("15.50")
    assert _refunded_events(order) == sorted([(first.id, Decimal("10.00")), (second.id, Decimal("5.50"))])

    # when the second refund's own event (a new event id, the same charge) arrives late, and the first is replayed
    late = charge_refunded_event(stripe_peer.url, charge_id, previous_amount_refunded=1000)
    before = shop_rows()
    assert signed_post(client, late).status_code == 200
    assert signed_post(client, evt).status_code == 200

    # then nothing new is recorded
    after = shop_rows()
    assert sorted(after.pop("stripe_events")) == sorted([(evt["id"], StripeEvent.PROCESSED, 2),
                                                         (late["id"], StripeEvent.PROCESSED, 1)])
    before.pop("stripe_events")
    assert after == before
    assert _reload(order).status == "Paid"


def test_full_refund_at_stripe_moves_the_order_to_refunded(client, placed_order, shop_gateway, stripe_peer):
    # given a paid order refunded in full in Stripe's dashboard
    order, intent_id = _paid_order(placed_order, shop_gateway)
    refund = _refund_at_stripe(shop_gateway, intent_id, TOTAL, "dashboard:all")
    charge_id = shop_gateway.retrieve_intent(intent_id).latest_charge_id

    # when charge.refunded is delivered
    response = signed_post(client, charge_refunded_event(stripe_peer.url, charge_id))

    # then the order is Refunded, its source fully refunded
    assert response.status_code == 200
    order = _reload(order)
    assert order.status == "Refunded"
    assert set(order.lines.values_list("status", flat=True)) == {"Refunded"}
    source = Source.objects.get(order=order)
    assert (source.amount_debited, source.amount_refunded) == (TOTAL, TOTAL)
    assert StripeRefund.objects.get().refund_id == refund.id
    assert _refunded_events(order) == [(refund.id, TOTAL)]


def test_refund_of_a_charge_that_is_not_ours_is_ignored(client, placed_order, shop_gateway, stripe_peer):
    # given a charge paid and refunded at Stripe through an intent that no attempt of ours made
    theirs = shop_gateway.create_intent(amount=TOTAL, currency="USD", order_number="other", attempt=1)
    theirs = shop_gateway.confirm_intent(theirs.id, payment_method="pm_card_visa")
    _refund_at_stripe(shop_gateway, theirs.id, Decimal("1.00"), "dashboard:theirs")
    evt = charge_refunded_event(stripe_peer.url, theirs.latest_charge_id)
    before = shop_rows()

    # when charge.refunded is delivered, then it is ignored and nothing is written
    response = signed_post(client, evt)
    assert response.status_code == 200
    assert response.json() == {"outcome": "ignored", "detail": f"payment intent {theirs.id} is not ours"}
    after = shop_rows()
    after.pop("stripe_events"), before.pop("stripe_events")
    assert after == before


# --- disputes (localstripe has none: only retrieve_dispute is replaced) -----------------------------


@pytest.fixture
def disputes(monkeypatch):
    """Stripe's disputes, by id: what `StripeGateway.retrieve_dispute` answers in these tests."""
    known = {}

    def retrieve_dispute(self, dispute_id):
        return dispute_of(known[dispute_id])

    monkeypatch.setattr(StripeGateway, "retrieve_dispute", retrieve_dispute)
    return known


def _disputed(gateway, order, disputes, *, status):
    order, intent_id = _paid_order(order, gateway)
    charge_id = gateway.retrieve_intent(intent_id).latest_charge_id
    dispute = dispute_object(charge_id=charge_id, payment_intent_id=intent_id, amount=TOTAL, status=status)
    disputes[dispute["id"]] = dispute
    return order, dispute


def test_dispute_created_adds_one_note_for_staff(client, placed_order, shop_gateway, stripe_peer, disputes):
    # given a paid order whose charge the card holder disputes
    order, dispute = _disputed(shop_gateway, placed_order, disputes, status="needs_response")
    notes_before = OrderNote.objects.filter(order=order).count()
    evt = dispute_event("charge.dispute.created", dispute)

    # when charge.dispute.created is delivered, twice
    response = signed_post(client, evt)
    before = shop_rows()
    assert signed_post(client, evt).status_code == 200

    # then staff get one note; the order and its money are unchanged
    assert response.status_code == 200
    assert response.json() == {"outcome": "processed",
                               "detail": f"order {order.number}: dispute {dispute['id']} needs_response"}
    notes = list(OrderNote.objects.filter(order=order).order_by("pk").values_list("message", flat=True))
    assert len(notes) == notes_before + 1
    assert notes[-1] == f"Dispute {dispute['id']} opened for 30.00 USD (needs_response)."
    assert _reload(order).status == "Paid"
    assert PaymentEvent.objects.filter(order=order).count() == 1
    after = shop_rows()
    after.pop("stripe_events"), before.pop("stripe_events")
    assert after == before


def test_dispute_lost_reverses_once(client, placed_order, shop_gateway, stripe_peer, disputes):
    # given a paid order whose dispute was lost
    order, dispute = _disputed(shop_gateway, placed_order, disputes, status="lost")
    evt = dispute_event("charge.dispute.closed", dispute, previous_status="under_review")

    # when charge.dispute.closed is delivered
    response = signed_post(client, evt)

    # then one "Dispute lost" payment event for the disputed amount, and a note
    assert response.status_code == 200
    assert response.json() == {"outcome": "processed",
                               "detail": f"order {order.number}: dispute {dispute['id']} lost"}
    lost = list(PaymentEvent.objects.filter(order=order, event_type__name="Dispute lost")
                .values_list("reference", "amount"))
    assert lost == [(dispute["id"], TOTAL)]
    assert OrderNote.objects.filter(order=order, message__startswith=f"Dispute {dispute['id']} lost").count() == 1

    # when it is replayed, and delivered again under a new event id, then nothing new
    before = shop_rows()
    assert signed_post(client, evt).status_code == 200
    assert signed_post(client, dispute_event("charge.dispute.closed", dispute)).status_code == 200
    after = shop_rows()
    after.pop("stripe_events"), before.pop("stripe_events")
    assert after == before


def test_dispute_won_adds_a_note_only(client, placed_order, shop_gateway, stripe_peer, disputes):
    # given a paid order whose dispute was won
    order, dispute = _disputed(shop_gateway, placed_order, disputes, status="won")
    before = shop_rows()

    # when charge.dispute.closed is delivered
    response = signed_post(client, dispute_event("charge.dispute.closed", dispute, previous_status="under_review"))

    # then staff get notes (first seen here: opened, then closed) and nothing else changes
    assert response.status_code == 200
    after = shop_rows()
    after.pop("stripe_events"), before.pop("stripe_events")
    assert after.pop("notes") == before.pop("notes") + 2
    assert after == before
    note = OrderNote.objects.filter(order=order).order_by("pk").last()
    assert note.message == f"Dispute {dispute['id']} closed: won."
    assert not PaymentEvent.objects.filter(order=order, event_type__name="Dispute lost").exists()


# --- with a broker: stored and answered at once, processed by a worker (issue 14) ----------------------


def test_with_a_broker_the_event_is_stored_and_answered_before_any_stripe_call(
        client, placed_order, shop_gateway, stripe_peer, settings, broker, django_capture_on_commit_callbacks):
    # given an order paid at Stripe and its succeeded event, and Stripe unreachable from the shop
    intent = paid_at_stripe_only(shop_gateway, placed_order)
    evt = intent_event(stripe_peer.url, "payment_intent.succeeded", intent.id)
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"
    settings.SHOP_WEBHOOK_RETRY_SECONDS = 10

    # when Stripe delivers it, twice
    with django_capture_on_commit_callbacks(execute=True):
        first = signed_post(client, evt)
    with django_capture_on_commit_callbacks(execute=True):
        second = signed_post(client, evt)

    # then both are answered 2xx without asking Stripe (it cannot be reached), the event is stored once,
    # and exactly one message naming the task and the event row waits in Redis
    assert (first.status_code, first.json()) == (200, {"outcome": "received", "detail": "queued"})
    assert (second.status_code, second.json()) == (200, {"outcome": "duplicate", "detail": "received"})
    stored = _stored(evt)
    assert (stored.outcome, stored.attempts, stored.deliveries, stored.next_attempt_at) == (
        StripeEvent.RECEIVED, 0, 2, None)
    assert broker.queued() == 1
    message = json.loads(broker.redis.lindex("celery", 0))
    assert message["headers"]["task"] == "shop.payments.tasks.process_webhook_event"
    assert json.loads(base64.b64decode(message["body"]))[0] == [stored.pk]
    assert _reload(placed_order).status == "Pending payment"

    # when the worker's first attempt runs while Stripe is still away
    outcome, detail = webhooks.process_event(pk=stored.pk)

    # then it failed, nothing of the capture is written, and a retry is scheduled with its traceback kept
    assert (outcome, detail.split(":")[0]) == (StripeEvent.FAILED, "StripeUnreachable")
    stored = _stored(evt)
    assert (stored.outcome, stored.attempts) == (StripeEvent.FAILED, 1)
    assert stored.next_attempt_at is not None and "StripeUnreachable" in stored.error
    assert Source.objects.count() == 0 and _reload(placed_order).status == "Pending payment"

    # when the retry runs once Stripe is back, then the payment is captured once
    settings.STRIPE_API_BASE = stripe_peer.url
    assert webhooks.process_event(pk=stored.pk) == (StripeEvent.PROCESSED, f"order {placed_order.number}: captured")
    assert webhooks.process_event(pk=stored.pk) == ("duplicate", StripeEvent.PROCESSED)
    stored = _stored(evt)
    assert (stored.outcome, stored.attempts, stored.next_attempt_at) == (StripeEvent.PROCESSED, 2, None)
    assert _reload(placed_order).status == "Paid"
    assert [s.amount_debited for s in Source.objects.all()] == [TOTAL]
    assert len(_paid_events(placed_order)) == 1


def test_with_a_broker_a_rejected_event_is_neither_stored_nor_queued(db, client, stripe_peer, broker):
    # given an event signed with another secret
    evt = event("payment_intent.succeeded", {"id": "pi_forged", "object": "payment_intent"})

    # when it is delivered
    response = signed_post(client, evt, secret="whsec_not_ours")

    # then it is refused, and nothing is stored or sent to a worker
    assert response.status_code == 400
    assert StripeEvent.objects.count() == 0
    assert broker.queued() == 0


def test_staff_see_failed_events_and_process_one_again_once(client, staff_client, placed_order, shop_gateway,
                                                            stripe_peer, settings):
    # given an event whose processing failed and will not be retried (Stripe was away; no broker)
    intent = paid_at_stripe_only(shop_gateway, placed_order)
    evt = intent_event(stripe_peer.url, "payment_intent.succeeded", intent.id)
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"
    assert signed_post(client, evt).status_code == 500
    stored = _stored(evt)

    # when staff open the events list and the event
    listing = staff_client.get("/dashboard/payments/webhook-events/?outcome=failed")
    page = staff_client.get(f"/dashboard/payments/webhook-events/{stored.pk}/")

    # then it is listed as failed, not retried, with its error and a "process again" button
    html = listing.content.decode()
    assert listing.status_code == 200 and evt["id"] in html and "not retried: process it again" in html
    assert "failed (1)" in html and "processed (0)" in html
    assert page.status_code == 200 and 'id="process-again"' in page.content.decode()
    assert "StripeUnreachable" in page.content.decode()

    # when Stripe is back and staff process it again, twice (a second click)
    settings.STRIPE_API_BASE = stripe_peer.url
    again = staff_client.post(f"/dashboard/payments/webhook-events/{stored.pk}/", follow=True)
    twice = staff_client.post(f"/dashboard/payments/webhook-events/{stored.pk}/", follow=True)

    # then it is processed once: the order paid once, and the second click is refused with a reason
    assert f"Event {evt['id']} processed: order {placed_order.number}: captured" in again.content.decode()
    assert f"Event {evt['id']} is processed: only a failed event can be processed again." in twice.content.decode()
    stored = _stored(evt)
    assert (stored.outcome, stored.attempts, stored.deliveries) == (StripeEvent.PROCESSED, 2, 1)
    assert _reload(placed_order).status == "Paid"
    assert Source.objects.count() == 1 and len(_paid_events(placed_order)) == 1


def test_the_events_pages_are_for_staff_only(client, django_user_model):
    # given a signed-in fan who is not staff
    fan = django_user_model.objects.create_user(username="fan", email="fan@example.org", password="pw-123456789")
    client.force_login(fan)

    # when they open the events list and an event, then both are forbidden
    assert client.get("/dashboard/payments/webhook-events/").status_code == 403
    assert client.post("/dashboard/payments/webhook-events/1/").status_code == 403
