"""The fake Stripe itself: it must refuse what real Stripe refuses and answer in Stripe's shapes,
or the payment tests built on it prove nothing. One server for the module, flushed between tests;
driven both with raw HTTP and with stripe-python's StripeClient (the SDK the gateway uses)."""

import json
import time
from pathlib import Path

import pytest
import stripe

from tests.fakestripe import StripeFake, StripeFakeError
from tests.fakestripe.server import DEFAULT_FIXTURES

FIXTURES = json.loads(Path(DEFAULT_FIXTURES).read_text())["resources"]


@pytest.fixture(scope="module")
def fake():
    with StripeFake() as server:
        yield server


@pytest.fixture(autouse=True)
def _flushed(fake):
    fake.flush()


@pytest.fixture
def client(fake):
    return stripe.StripeClient(fake.secret_key, base_addresses={"api": fake.url}, max_network_retries=0)


def _intent(client, amount=2000, currency="usd", **params):
    return client.v1.payment_intents.create({"amount": amount, "currency": currency, **params})


def _paid(client, amount=2000, currency="usd", card="pm_card_visa", **params):
    intent = _intent(client, amount, currency, **params)
    return client.v1.payment_intents.confirm(intent.id, {"payment_method": card})


# --- the parameter contract -----------------------------------------------------------------------


def test_an_unknown_parameter_is_refused_with_stripes_error_and_nothing_is_created(fake):
    # when a create carries a parameter stripe.params.PaymentIntentCreateParams does not have
    resp = fake.call("POST", "/v1/payment_intents", {"amount": 2000, "currency": "usd", "order_number": "1"},
                     idempotency_key="k-unknown")

    # then Stripe's 400 parameter_unknown, with a request id, and no intent exists
    assert resp.status == 400
    assert resp.error["type"] == "invalid_request_error"
    assert resp.error["code"] == "parameter_unknown"
    assert resp.error["param"] == "order_number"
    assert resp.error["message"] == "Received unknown parameter: order_number"
    assert resp.headers["Request-Id"].startswith("req_")
    assert fake.objects("payment_intent") == []


def test_payment_method_types_has_its_own_code_on_this_api_version(fake, client):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        _intent(client, payment_method_types=["card"])

    assert caught.value.http_status == 400
    assert caught.value.code == "payment_method_types_no_longer_supported"
    assert caught.value.param == "payment_method_types"
    assert "allowed_payment_method_types" in caught.value.user_message
    assert fake.objects("payment_intent") == []


def test_nested_unknown_parameters_and_missing_required_ones_are_refused(fake):
    nested = fake.call("POST", "/v1/payment_intents",
                       {"amount": 2000, "currency": "usd", "shipping": {"name": "A", "address": {"line1": "x",
                                                                                                "planet": "Mars"}}},
                       idempotency_key="k-nested")
    missing = fake.call("POST", "/v1/payment_intents", {"amount": 2000}, idempotency_key="k-missing")
    not_int = fake.call("POST", "/v1/payment_intents", {"amount": "20.00", "currency": "usd"},
                        idempotency_key="k-int")

    assert (nested.status, nested.error["code"], nested.error["param"]) == (
        400, "parameter_unknown", "shipping[address][planet]")
    assert (missing.status, missing.error["code"], missing.error["message"]) == (
        400, "parameter_missing", "Missing required param: currency.")
    assert (not_int.status, not_int.error["code"], not_int.error["message"]) == (
        400, "parameter_invalid_integer", "Invalid integer: 20.00")
    assert fake.objects("payment_intent") == []


def test_each_endpoint_accepts_exactly_its_own_params_type(fake, client):
    # given a paid intent
    intent = _paid(client)

    # then a key of another endpoint's params type is unknown here (amount is not a cancel param,
    # payment_method is not a refund param), and the endpoint's own keys are accepted
    cancel = fake.call("POST", f"/v1/payment_intents/{intent.id}/cancel", {"amount": 1})
    refund = fake.call("POST", "/v1/refunds", {"payment_intent": intent.id, "payment_method": "pm_card_visa"},
                       idempotency_key="k-refund-pm")
    listing = fake.call("GET", "/v1/charges", {"payment_intent": intent.id, "limit": 3})
    assert (cancel.status, cancel.error["param"]) == (400, "amount")
    assert (refund.status, refund.error["param"]) == (400, "payment_method")
    assert listing.status == 200
    assert [c["id"] for c in listing.body["data"]] == [intent.latest_charge]


def test_allowed_payment_method_types_and_receipt_email_are_accepted(fake, client):
    intent = _intent(client, allowed_payment_method_types=["card"], receipt_email="buyer@example.org",
                     metadata={"order_number": "100042"}, description="Order 100042")

    assert intent.status == "requires_payment_method"
    assert intent.payment_method_types == ["card"]
    assert intent.automatic_payment_methods is None
    assert intent.receipt_email == "buyer@example.org"
    assert intent.metadata.to_dict() == {"order_number": "100042"}
    assert intent.client_secret.startswith(f"{intent.id}_secret_")
    assert intent.amount == 2000 and intent.currency == "usd"
    assert fake.requests()[0]["params"]["allowed_payment_method_types"] == ["card"]


def test_api_key_is_required(fake):
    no_key = fake.call("GET", "/v1/payment_intents", api_key=None)
    publishable = fake.call("GET", "/v1/payment_intents", api_key=fake.publishable_key)
    live = fake.call("GET", "/v1/payment_intents", api_key="sk_live_abcdefgh1234")

    assert no_key.status == publishable.status == live.status == 401
    assert no_key.error["type"] == "invalid_request_error"
    assert no_key.error["message"].startswith("You did not provide an API key.")
    assert live.error["message"] == "Invalid API Key provided: sk_live_********1234"
    with pytest.raises(stripe.AuthenticationError):
        stripe.StripeClient("sk_live_x1234", base_addresses={"api": fake.url},
                            max_network_retries=0).v1.payment_intents.list()


# --- idempotency ----------------------------------------------------------------------------------


def test_creates_require_an_idempotency_key(fake):
    intent = fake.call("POST", "/v1/payment_intents", {"amount": 2000, "currency": "usd"})
    refund = fake.call("POST", "/v1/refunds", {"charge": "ch_x"})

    assert (intent.status, intent.error["code"]) == (400, "idempotency_key_required")
    assert (refund.status, refund.error["code"]) == (400, "idempotency_key_required")
    assert fake.objects("payment_intent") == []


def test_same_key_and_params_replays_the_stored_answer_without_doing_it_again(fake, client):
    params = {"amount": 2000, "currency": "usd", "metadata": {"order_number": "100001"}}
    first = fake.call("POST", "/v1/payment_intents", params, idempotency_key="pi:100001:1")
    second = fake.call("POST", "/v1/payment_intents", params, idempotency_key="pi:100001:1")

    assert first.status == second.status == 200
    assert second.body == first.body
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(fake.objects("payment_intent")) == 1
    assert [(r["idempotency_key"], r["replayed"]) for r in fake.requests()] == [
        ("pi:100001:1", False), ("pi:100001:1", True)]

    # and the same key with other parameters, or on another endpoint, is an idempotency_error
    other = fake.call("POST", "/v1/payment_intents", {**params, "amount": 2100}, idempotency_key="pi:100001:1")
    elsewhere = fake.call("POST", "/v1/refunds", {"charge": "ch_x"}, idempotency_key="pi:100001:1")
    assert (other.status, other.error["type"]) == (400, "idempotency_error")
    assert (elsewhere.status, elsewhere.error["type"]) == (400, "idempotency_error")
    with pytest.raises(stripe.IdempotencyError):
        client.v1.payment_intents.create({"amount": 2100, "currency": "usd"},
                                         options={"idempotency_key": "pi:100001:1"})
    assert len(fake.objects("payment_intent")) == 1


def test_keys_are_honoured_on_every_post_and_a_stored_decline_replays(fake, client):
    intent = _intent(client)
    confirm = {"payment_method": "pm_card_chargeDeclined"}
    first = fake.call("POST", f"/v1/payment_intents/{intent.id}/confirm", confirm, idempotency_key="confirm-1")
    again = fake.call("POST", f"/v1/payment_intents/{intent.id}/confirm", confirm, idempotency_key="confirm-1")

    assert first.status == again.status == 402
    assert again.body == first.body
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(fake.objects("charge")) == 1  # one attempt, not two


# --- payments -------------------------------------------------------------------------------------


def test_a_declined_intent_can_be_confirmed_again_with_another_card(fake, client):
    intent = _intent(client)

    with pytest.raises(stripe.CardError) as caught:
        client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_chargeDeclined"})

    error = caught.value
    assert error.http_status == 402
    assert error.code == "card_declined"
    assert error.error.decline_code == "generic_decline"
    assert error.user_message == "Your card was declined."
    assert error.error.payment_intent.id == intent.id
    assert error.error.payment_intent.status == "requires_payment_method"
    declined = client.v1.payment_intents.retrieve(intent.id)
    assert declined.status == "requires_payment_method"
    assert declined.payment_method is None
    assert declined.last_payment_error.code == "card_declined"
    assert declined.last_payment_error.decline_code == "generic_decline"
    assert declined.last_payment_error.message == "Your card was declined."
    assert declined.last_payment_error.type == "card_error"
    assert declined.amount_received == 0

    # when the same intent is confirmed with another card
    paid = client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_mastercard"})

    # then it succeeds; Stripe keeps the failed charge next to the paid one
    assert paid.status == "succeeded"
    assert paid.amount_received == 2000
    assert paid.last_payment_error is None
    charges = [c for c in fake.objects("charge") if c["payment_intent"] == intent.id]
    assert [(c["status"], c["paid"]) for c in charges] == [("failed", False), ("succeeded", True)]
    assert paid.latest_charge == charges[1]["id"]
    assert charges[0]["balance_transaction"] is None
    assert charges[1]["payment_method_details"]["card"]["brand"] == "mastercard"


def test_insufficient_funds_and_unknown_payment_methods(fake, client):
    intent = _intent(client)
    with pytest.raises(stripe.CardError) as caught:
        client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_chargeDeclinedInsufficientFunds"})
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_bogus"})

    assert caught.value.error.decline_code == "insufficient_funds"
    assert caught.value.user_message == "Your card has insufficient funds."
    assert (unknown.value.http_status, unknown.value.code, unknown.value.param) == (
        400, "resource_missing", "payment_method")


def test_a_payment_method_set_by_update_is_confirmed(fake, client):
    intent = _intent(client)
    updated = client.v1.payment_intents.update(intent.id, {"payment_method": "pm_card_visa",
                                                           "metadata": {"attempt": "2"}})
    paid = client.v1.payment_intents.confirm(intent.id)

    assert updated.status == "requires_confirmation"
    assert updated.payment_method.startswith("pm_") and updated.payment_method != "pm_card_visa"
    assert paid.status == "succeeded"
    assert paid.payment_method == updated.payment_method
    assert paid.metadata.to_dict() == {"attempt": "2"}


def test_confirming_without_a_payment_method_or_a_paid_intent_is_refused(fake, client):
    intent = _intent(client)
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.payment_intents.confirm(intent.id)
    client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_visa"})
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_visa"})

    assert missing.value.code == again.value.code == "payment_intent_unexpected_state"
    assert len([c for c in fake.objects("charge") if c["status"] == "succeeded"]) == 1


def test_three_d_secure_completed_and_failed(fake, client):
    # given two intents confirmed with a card that requires 3DS
    ok = client.v1.payment_intents.confirm(_intent(client).id, {"payment_method": "pm_card_threeDSecure2Required"})
    ko = client.v1.payment_intents.confirm(_intent(client).id, {"payment_method": "pm_card_threeDSecure2Required"})
    assert ok.status == ko.status == "requires_action"
    assert ok.next_action.type == "use_stripe_sdk"
    assert ok.latest_charge is None
    assert fake.objects("charge") == []

    # when the customer passes 3DS on one and fails it on the other
    passed = fake.complete_3ds(ok.id, success=True)
    failed = fake.complete_3ds(ko.id, success=False)

    # then one is paid with a charge, the other waits for a new payment method
    assert passed["status"] == "succeeded"
    assert passed["amount_received"] == 2000
    assert passed["latest_charge"].startswith("ch_")
    assert failed["status"] == "requires_payment_method"
    assert failed["last_payment_error"]["code"] == "payment_intent_authentication_failure"
    assert failed["latest_charge"] is None
    assert [c["payment_intent"] for c in fake.objects("charge")] == [ok.id]


def test_a_canceled_intent_can_never_be_charged_late(fake, client):
    intent = client.v1.payment_intents.confirm(_intent(client).id, {"payment_method": "pm_card_threeDSecure2Required"})
    canceled = client.v1.payment_intents.cancel(intent.id, {"cancellation_reason": "abandoned"})
    assert canceled.status == "canceled"
    assert canceled.cancellation_reason == "abandoned"
    assert canceled.canceled_at > 0

    with pytest.raises(StripeFakeError) as late_3ds:
        fake.complete_3ds(intent.id, success=True)
    with pytest.raises(StripeFakeError) as late_browser:
        fake.confirm_as_browser(intent.id, "pm_card_visa")

    assert (late_3ds.value.status, late_3ds.value.error["code"]) == (400, "payment_intent_unexpected_state")
    assert late_browser.value.error["code"] == "payment_intent_unexpected_state"
    assert fake.objects("charge") == []


def test_cancelling_a_succeeded_intent_is_refused_with_stripes_message(fake, client):
    intent = _paid(client)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payment_intents.cancel(intent.id)

    assert caught.value.code == "payment_intent_unexpected_state"
    assert caught.value.user_message == (
        "You cannot cancel this PaymentIntent because it has a status of succeeded. Only a PaymentIntent with "
        "one of the following statuses may be canceled: requires_payment_method, requires_capture, "
        "requires_confirmation, requires_action, processing.")
    assert caught.value.json_body["error"]["payment_intent"]["status"] == "succeeded"


def test_confirm_as_browser_pays_the_intent(fake, client):
    intent = _intent(client)
    paid = fake.confirm_as_browser(intent.id, "pm_card_visa")

    assert paid["status"] == "succeeded"
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"
    assert fake.requests(path=f"/v1/payment_intents/{intent.id}/confirm") == []  # not the shop's request


def test_metadata_limits_and_update_semantics(fake, client):
    with pytest.raises(stripe.InvalidRequestError) as too_long:
        _intent(client, metadata={"basket": "x" * 501})
    intent = _intent(client, metadata={"order_number": "1", "basket": "7"})
    updated = client.v1.payment_intents.update(intent.id, {"metadata": {"basket": "", "attempt": "2"}})

    assert too_long.value.param == "metadata[basket]"
    assert updated.metadata.to_dict() == {"order_number": "1", "attempt": "2"}


def test_amounts_below_stripes_minimum_are_refused(fake, client):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        _intent(client, amount=49)

    assert caught.value.code == "amount_too_small"
    assert caught.value.user_message == "Amount must be at least $0.50 usd"


# --- shapes and fees ------------------------------------------------------------------------------


def test_ids_stay_ids_unless_expanded_and_the_fee_is_real(fake, client):
    intent = _paid(client)
    assert isinstance(intent.latest_charge, str)

    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert isinstance(charge.balance_transaction, str)
    assert "refunds" not in fake.call("GET", f"/v1/charges/{charge.id}").body
    assert charge.payment_intent == intent.id
    assert (charge.amount, charge.amount_captured, charge.amount_refunded) == (2000, 2000, 0)
    assert (charge.captured, charge.paid, charge.refunded, charge.disputed, charge.status) == (
        True, True, False, False, "succeeded")

    expanded = client.v1.payment_intents.retrieve(
        intent.id, {"expand": ["latest_charge.balance_transaction", "latest_charge.refunds"]})
    bt = expanded.latest_charge.balance_transaction
    assert (bt.amount, bt.fee, bt.net, bt.currency, bt.type, bt.source) == (2000, 88, 1912, "usd", "charge",
                                                                           charge.id)
    assert bt.exchange_rate is None
    assert [fd.to_dict() for fd in bt.fee_details] == [{"amount": 88, "application": None, "currency": "usd",
                                                        "description": "Stripe processing fees",
                                                        "type": "stripe_fee"}]
    assert expanded.latest_charge.refunds.to_dict() == {
        "object": "list", "data": [], "has_more": False, "url": f"/v1/charges/{charge.id}/refunds"}


def test_fee_per_currency_and_with_a_settlement_currency(fake, client):
    # JPY is zero-decimal: 3.6% half-up, no fixed part
    jpy = client.v1.charges.retrieve(_paid(client, 1000, "jpy").latest_charge, {"expand": ["balance_transaction"]})
    assert (jpy.balance_transaction.fee, jpy.balance_transaction.net) == (36, 964)

    # a EUR charge settled in USD at 1.1: 2200 cents, fee 2.9% of 2200 = 63.8 -> 64, + 30
    fake.set_settlement("usd", "1.1")
    eur = client.v1.charges.retrieve(_paid(client, 2000, "eur").latest_charge, {"expand": ["balance_transaction"]})
    bt = eur.balance_transaction
    assert (bt.amount, bt.currency, bt.fee, bt.net, bt.exchange_rate) == (2200, "usd", 94, 2106, 1.1)
    assert eur.amount == 2000 and eur.currency == "eur"


def test_objects_have_every_field_of_stripes_examples(fake, client):
    intent = _paid(client)
    charge = client.v1.charges.retrieve(intent.latest_charge)
    refund = client.v1.refunds.create({"charge": charge.id, "amount": 100})
    bt = client.v1.balance_transactions.retrieve(charge.balance_transaction)
    dispute = client.v1.disputes.retrieve(fake.create_dispute(charge.id)["id"])

    assert set(FIXTURES["payment_intent"]) <= set(intent.to_dict())
    assert set(FIXTURES["charge"]) - {"refunds"} <= set(charge.to_dict())
    assert set(FIXTURES["refund"]) <= set(refund.to_dict())
    assert set(FIXTURES["balance_transaction"]) <= set(bt.to_dict())
    assert set(FIXTURES["dispute"]) <= set(dispute.to_dict())


# --- refunds --------------------------------------------------------------------------------------


def test_refund_pending_then_succeeded_then_failed(fake, client):
    intent = _paid(client)
    refund = client.v1.refunds.create({"payment_intent": intent.id, "amount": 500, "metadata": {"rma": "7"},
                                       "reason": "requested_by_customer"})

    # then the refund is pending, yet already counts on the charge
    assert refund.status == "pending"
    assert (refund.amount, refund.currency, refund.charge, refund.payment_intent) == (
        500, "usd", intent.latest_charge, intent.id)
    assert refund.metadata.to_dict() == {"rma": "7"}
    assert refund.balance_transaction.startswith("txn_")
    assert client.v1.charges.retrieve(intent.latest_charge).amount_refunded == 500

    succeeded = fake.set_refund_status(refund.id, "succeeded")
    assert succeeded["status"] == "succeeded"
    assert client.v1.charges.retrieve(intent.latest_charge).amount_refunded == 500

    # when Stripe fails it after it succeeded, the amount goes back on the charge
    failed = fake.set_refund_status(refund.id, "failed", "expired_or_canceled_card")
    assert failed["status"] == "failed"
    assert failed["failure_reason"] == "expired_or_canceled_card"
    failure_bt = client.v1.balance_transactions.retrieve(failed["failure_balance_transaction"])
    assert (failure_bt.amount, failure_bt.type) == (500, "refund_failure")
    assert client.v1.charges.retrieve(intent.latest_charge).amount_refunded == 0
    with pytest.raises(StripeFakeError):
        fake.set_refund_status(refund.id, "succeeded")


def test_refunding_more_than_is_left_is_refused(fake, client):
    intent = _paid(client)
    with pytest.raises(stripe.InvalidRequestError) as too_large:
        client.v1.refunds.create({"payment_intent": intent.id, "amount": 2001})
    client.v1.refunds.create({"payment_intent": intent.id, "amount": 1500})
    with pytest.raises(stripe.InvalidRequestError) as over_rest:
        client.v1.refunds.create({"payment_intent": intent.id, "amount": 501})
    full = client.v1.refunds.create({"payment_intent": intent.id})
    with pytest.raises(stripe.InvalidRequestError) as already:
        client.v1.refunds.create({"charge": intent.latest_charge, "amount": 1})

    assert too_large.value.code == "amount_too_large"
    assert too_large.value.user_message == "Refund amount ($20.01) is greater than charge amount ($20.00)"
    assert over_rest.value.user_message == "Refund amount ($5.01) is greater than unrefunded amount on charge ($5.00)"
    assert full.amount == 500
    assert already.value.code == "charge_already_refunded"
    assert already.value.user_message == f"Charge {intent.latest_charge} has already been refunded."
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert (charge.amount_refunded, charge.refunded) == (2000, True)
    assert len(fake.objects("refund")) == 2


def test_a_dashboard_refund_has_no_key_and_no_metadata(fake, client):
    intent = _paid(client)
    refund = fake.create_refund_as_dashboard(intent.id, amount=700)

    assert (refund["status"], refund["amount"], refund["metadata"]) == ("succeeded", 700, {})
    assert client.v1.charges.retrieve(intent.latest_charge).amount_refunded == 700
    assert fake.requests(path="/v1/refunds") == []


def test_refund_list_pagination(fake, client):
    intent = _paid(client)
    ids = [client.v1.refunds.create({"payment_intent": intent.id, "amount": 100}).id for _ in range(3)]

    first = client.v1.refunds.list({"charge": intent.latest_charge, "limit": 2})
    rest = client.v1.refunds.list({"charge": intent.latest_charge, "limit": 2, "starting_after": first.data[-1].id})
    by_intent = client.v1.refunds.list({"payment_intent": intent.id, "limit": 2})

    assert first.object == "list"
    assert [r.id for r in first.data] == [ids[2], ids[1]]  # newest first
    assert first.has_more is True
    assert [r.id for r in rest.data] == [ids[0]]
    assert rest.has_more is False
    assert [r.id for r in by_intent.auto_paging_iter()] == [ids[2], ids[1], ids[0]]
    raw = fake.call("GET", "/v1/refunds", {"payment_intent": intent.id, "limit": 1, "expand": ["data.charge"]})
    assert raw.body["data"][0]["charge"]["id"] == intent.latest_charge
    assert raw.body["url"] == "/v1/refunds"


# --- faults ---------------------------------------------------------------------------------------


def test_a_lost_answer_was_performed_and_a_retry_with_the_same_key_replays_it(fake, client):
    fake.fault("POST", r"^/v1/payment_intents$", "lose_answer")

    with pytest.raises(stripe.APIConnectionError):
        client.v1.payment_intents.create({"amount": 2000, "currency": "usd"}, options={"idempotency_key": "pi:1:1"})

    # the intent exists at Stripe even though the shop never saw it
    (stored,) = fake.objects("payment_intent")
    assert stored["amount"] == 2000
    assert fake.requests()[0]["fault"] == "lose_answer"
    retried = client.v1.payment_intents.create({"amount": 2000, "currency": "usd"},
                                               options={"idempotency_key": "pi:1:1"})
    assert retried.id == stored["id"]
    assert retried.last_response.headers["Idempotent-Replayed"] == "true"
    assert len(fake.objects("payment_intent")) == 1


def test_a_lost_confirm_answer_still_charged_the_card(fake, client):
    intent = _intent(client)
    fake.fault("POST", r"/confirm$", "lose_answer")

    with pytest.raises(stripe.APIConnectionError):
        client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_visa"})

    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"
    assert len(fake.objects("charge")) == 1


def test_error_before_and_not_found_do_nothing(fake, client):
    fake.fault("POST", r"^/v1/payment_intents$", "error_before")
    with pytest.raises(stripe.APIError) as caught:
        client.v1.payment_intents.create({"amount": 2000, "currency": "usd"}, options={"idempotency_key": "pi:2:1"})
    assert caught.value.http_status == 500
    assert fake.objects("payment_intent") == []

    # nothing was stored under the key: the retry performs the create
    intent = client.v1.payment_intents.create({"amount": 2000, "currency": "usd"},
                                              options={"idempotency_key": "pi:2:1"})
    fake.fault("GET", r"^/v1/payment_intents/", "not_found", times=1)
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.payment_intents.retrieve(intent.id)
    assert (missing.value.http_status, missing.value.code) == (404, "resource_missing")
    assert client.v1.payment_intents.retrieve(intent.id).id == intent.id  # times=1: used up


def test_a_hang_past_the_client_timeout_still_performs_the_operation(fake):
    impatient = stripe.StripeClient(fake.secret_key, base_addresses={"api": fake.url}, max_network_retries=0,
                                    http_client=stripe.RequestsClient(timeout=0.2))
    fake.fault("POST", r"^/v1/payment_intents$", "hang", seconds=1.5)

    with pytest.raises(stripe.APIConnectionError):
        impatient.v1.payment_intents.create({"amount": 2000, "currency": "usd"}, options={"idempotency_key": "h1"})

    # a retry while the first request still runs is a 409 conflict; once it is done, a replay
    busy = fake.call("POST", "/v1/payment_intents", {"amount": 2000, "currency": "usd"}, idempotency_key="h1")
    assert (busy.status, busy.error["code"]) == (409, "idempotency_key_in_use")
    deadline = time.monotonic() + 10
    while not fake.objects("payment_intent") and time.monotonic() < deadline:
        time.sleep(0.05)
    (stored,) = fake.objects("payment_intent")
    deadline = time.monotonic() + 10
    while True:
        replay = fake.call("POST", "/v1/payment_intents", {"amount": 2000, "currency": "usd"}, idempotency_key="h1")
        if replay.status != 409 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert (replay.status, replay.body["id"], replay.headers["Idempotent-Replayed"]) == (200, stored["id"], "true")
    with pytest.raises(StripeFakeError):
        fake.fault("POST", ".*", "hang", seconds=31)


# --- disputes, events, the log --------------------------------------------------------------------


def test_dispute_withdraws_and_reinstates_funds(fake, client):
    intent = _paid(client)
    dispute = fake.create_dispute(intent.latest_charge)

    assert (dispute["status"], dispute["amount"], dispute["currency"]) == ("needs_response", 2000, "usd")
    assert (dispute["charge"], dispute["payment_intent"]) == (intent.latest_charge, intent.id)
    assert dispute["is_charge_refundable"] is False
    (withdrawal,) = dispute["balance_transactions"]
    assert (withdrawal["amount"], withdrawal["fee"], withdrawal["net"], withdrawal["reporting_category"]) == (
        -2000, 1500, -3500, "dispute")
    assert withdrawal["fee_details"][0]["amount"] == 1500
    assert client.v1.charges.retrieve(intent.latest_charge).disputed is True
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.refunds.create({"payment_intent": intent.id})
    assert refused.value.code == "charge_disputed"

    won = fake.update_dispute(dispute["id"], "won")
    fetched = client.v1.disputes.retrieve(dispute["id"])

    assert won["status"] == fetched.status == "won"
    assert [(bt.amount, bt.fee, bt.net) for bt in fetched.balance_transactions] == [
        (-2000, 1500, -3500), (2000, 0, 2000)]


def test_an_inquiry_withdraws_nothing(fake, client):
    intent = _paid(client)
    inquiry = fake.create_dispute(intent.latest_charge, amount=1000, status="warning_needs_response")

    assert inquiry["balance_transactions"] == []
    assert inquiry["is_charge_refundable"] is True
    assert client.v1.refunds.create({"payment_intent": intent.id}).amount == 2000


def test_event_has_the_shape_of_stripes_event(fake, client):
    intent = _paid(client)
    client.v1.refunds.create({"payment_intent": intent.id, "amount": 300}, options={"idempotency_key": "rf-1"})

    event = fake.event("charge.refunded", intent.latest_charge, previous_attributes={"amount_refunded": 0})

    assert set(FIXTURES["event"]) <= set(event)
    assert event["id"].startswith("evt_")
    assert (event["object"], event["api_version"], event["livemode"], event["pending_webhooks"]) == (
        "event", "2026-10-28.endive", False, 1)
    assert event["type"] == "charge.refunded"
    assert event["request"]["idempotency_key"] == "rf-1"
    assert event["request"]["id"].startswith("req_")
    charge = event["data"]["object"]
    assert (charge["id"], charge["amount_refunded"]) == (intent.latest_charge, 300)
    assert isinstance(charge["balance_transaction"], str)
    assert "refunds" not in charge
    assert event["data"]["previous_attributes"] == {"amount_refunded": 0}
    with pytest.raises(StripeFakeError):
        fake.event("payment_intent.succeeded", "pi_missing")


def test_the_log_records_what_the_sdk_sent(fake, client):
    client.v1.payment_intents.create({"amount": 2000, "currency": "usd", "metadata": {"order_number": "9"},
                                      "expand": ["latest_charge"]}, options={"idempotency_key": "pi:9:1"})
    client.v1.payment_intents.list({"limit": 3})

    create, listing = fake.requests()
    assert create["method"] == "POST" and create["path"] == "/v1/payment_intents"
    assert create["params"] == {"amount": "2000", "currency": "usd", "metadata": {"order_number": "9"},
                                "expand": ["latest_charge"]}
    assert create["idempotency_key"] == "pi:9:1"
    assert create["stripe_version"] == "2026-10-28.endive"
    assert (create["status"], create["replayed"], create["fault"]) == (200, False, None)
    assert (listing["method"], listing["params"], listing["idempotency_key"]) == ("GET", {"limit": "3"}, None)


def test_unrecognized_urls_and_flush(fake, client):
    _paid(client)
    fake.set_settlement("eur", "0.9")
    resp = fake.call("GET", "/v1/checkout/sessions")
    assert resp.status == 404
    assert resp.error["message"].startswith("Unrecognized request URL (GET: /v1/checkout/sessions).")

    fake.flush()

    assert fake.requests() == []
    assert fake.objects("charge") == []
    assert fake.objects("balance_transaction") == []
    charge = client.v1.charges.retrieve(_paid(client).latest_charge, {"expand": ["balance_transaction"]})
    bt = charge.balance_transaction
    assert (bt.currency, bt.fee) == ("usd", 88)  # settlement forgotten
