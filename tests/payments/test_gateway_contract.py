"""The gateway against a Stripe shaped like the real one (tests/fakestripe): every operation, the exact
parameters it sends (the fake refuses any that stripe-python's params types for the pinned API version do
not have), the idempotency keys, the shapes it reads, and Stripe's own minor-unit rules at the boundary."""

from decimal import Decimal

import pytest

from fundraising.money import CurrencyError
from shop.payments.gateway import CardDeclined, ObjectNotFound, PaymentError, StripeGateway, StripeUnreachable
from tests.fakestripe import StripeFakeError
from tests.payments.conftest import WEBHOOK_SECRET


def _sent(fake, method, path_end):
    return [r for r in fake.requests(method=method) if r["path"].endswith(path_end)]


def test_create_sends_only_current_api_parameters_with_a_stable_idempotency_key(fake_gateway, fake_stripe):
    # when a card intent is created for attempt 3 of order 100042
    intent = fake_gateway.create_intent(amount=Decimal("20.00"), currency="usd", order_number="100042", attempt=3,
                                        receipt_email="fan@example.org")
    # then Stripe got the amount in cents, cards only through allowed_payment_method_types (never the removed
    # payment_method_types), the email for Radar, our metadata, and the key pi:<order>:<attempt>
    [create] = _sent(fake_stripe, "POST", "/v1/payment_intents")
    assert create["status"] == 200
    assert create["idempotency_key"] == "pi:100042:3"
    assert create["params"] == {
        "amount": "2000", "currency": "usd", "allowed_payment_method_types": ["card"],
        "receipt_email": "fan@example.org", "metadata": {"order_number": "100042", "attempt": "3"},
    }
    assert (intent.status, intent.amount, intent.currency, intent.amount_received) == (
        "requires_payment_method", Decimal("20.00"), "USD", Decimal("0.00"))
    assert intent.metadata == {"order_number": "100042", "attempt": "3"}


def test_the_same_create_after_a_lost_answer_returns_the_same_intent(fake_gateway, fake_stripe):
    # given Stripe made the intent but its answer was lost
    fake_stripe.fault("POST", "^/v1/payment_intents$", "lose_answer")
    with pytest.raises(StripeUnreachable):
        fake_gateway.create_intent(amount=Decimal("20.00"), currency="USD", order_number="100042", attempt=1)
    # when the same create is sent again, then Stripe replays it: one intent, not two
    again = fake_gateway.create_intent(amount=Decimal("20.00"), currency="USD", order_number="100042", attempt=1)
    assert [i["id"] for i in fake_stripe.objects("payment_intent")] == [again.id]


def test_confirm_with_a_payment_method_pays_and_the_charge_has_a_real_fee(fake_gateway, fake_stripe):
    intent = fake_gateway.create_intent(amount=Decimal("20.00"), currency="USD", order_number="1", attempt=1)
    # when confirmed with a card in the confirm call itself (real Stripe takes it there)
    paid = fake_gateway.confirm_intent(intent.id, payment_method="pm_card_visa")
    # then succeeded; latest_charge is an id; the charge's balance transaction holds Stripe's real fee
    [confirm] = _sent(fake_stripe, "POST", f"/v1/payment_intents/{intent.id}/confirm")
    assert confirm["params"] == {"payment_method": "pm_card_visa"}
    assert _sent(fake_stripe, "POST", f"/v1/payment_intents/{intent.id}") == []  # no update round trip
    assert (paid.status, paid.amount_received) == ("succeeded", Decimal("20.00"))
    assert paid.latest_charge_id.startswith("ch_")
    charge = fake_gateway.retrieve_charge(paid.latest_charge_id)
    [get] = _sent(fake_stripe, "GET", f"/v1/charges/{paid.latest_charge_id}")
    assert get["params"] == {"expand": ["balance_transaction", "refunds"]}
    assert (charge.amount, charge.amount_captured, charge.payment_intent_id, charge.status) == (
        Decimal("20.00"), Decimal("20.00"), intent.id, "succeeded")
    # 2.9 % of 20.00 + 0.30 = 0.88
    assert charge.balance_transaction_fee == Decimal("0.88")
    assert (charge.balance_transaction.amount, charge.balance_transaction.net) == (Decimal("20.00"), Decimal("19.12"))


def test_a_fee_settled_in_another_currency_is_not_used(fake_gateway, fake_stripe):
    # given a USD charge settled in EUR
    fake_stripe.set_settlement("EUR", "0.9")
    intent = fake_gateway.create_intent(amount=Decimal("20.00"), currency="USD", order_number="1", attempt=1)
    paid = fake_gateway.confirm_intent(intent.id, payment_method="pm_card_visa")
    # then the gateway reports no fee in the order's currency (the ledger estimates it), but the transaction
    charge = fake_gateway.retrieve_charge(paid.latest_charge_id)
    assert charge.balance_transaction_fee is None
    assert (charge.balance_transaction.currency, charge.balance_transaction.exchange_rate) == ("EUR", Decimal("0.9"))


def test_a_decline_is_card_declined_and_the_same_intent_takes_another_card(fake_gateway):
    intent = fake_gateway.create_intent(amount=Decimal("20.00"), currency="USD", order_number="1", attempt=1)
    with pytest.raises(CardDeclined) as declined:
        fake_gateway.confirm_intent(intent.id, payment_method="pm_card_chargeDeclined")
    assert (str(declined.value), declined.value.code, declined.value.decline_code) == (
        "Your card was declined.", "card_declined", "generic_decline")
    assert declined.value.payment_intent_id == intent.id
    assert fake_gateway.retrieve_intent(intent.id).last_error_message == "Your card was declined."
    assert fake_gateway.confirm_intent(intent.id, payment_method="pm_card_visa").status == "succeeded"


def test_three_d_secure_and_cancel(fake_gateway, fake_stripe):
    intent = fake_gateway.create_intent(amount=Decimal("20.00"), currency="USD", order_number="1", attempt=1)
    waiting = fake_gateway.confirm_intent(intent.id, payment_method="pm_card_threeDSecure2Required")
    assert (waiting.status, waiting.next_action_type) == ("requires_action", "use_stripe_sdk")
    assert waiting.client_secret.startswith(f"{intent.id}_secret_")
    cancelled = fake_gateway.cancel_intent(intent.id)
    assert cancelled.status == "canceled"
    # a cancelled intent can never be charged, not even by a late 3D Secure completion
    with pytest.raises(StripeFakeError, match="canceled"):
        fake_stripe.complete_3ds(intent.id)
    assert fake_gateway.retrieve_intent(intent.id).status == "canceled"
    # and cancelling again is Stripe's 400, a PaymentError
    with pytest.raises(PaymentError):
        fake_gateway.cancel_intent(intent.id)


def test_refunds_by_intent_and_by_charge_start_pending_and_are_listed(fake_gateway, fake_stripe):
    intent = fake_gateway.create_intent(amount=Decimal("20.00"), currency="USD", order_number="1", attempt=1)
    paid = fake_gateway.confirm_intent(intent.id, payment_method="pm_card_visa")
    # when 5.00 is refunded through the intent and 2.50 through the charge
    first = fake_gateway.create_refund(payment_intent_id=intent.id, amount=Decimal("5.00"), currency="USD",
                                       idempotency_key="refund:1:a", metadata={"order_number": "1", "request_id": "a"})
    second = fake_gateway.create_refund(charge_id=paid.latest_charge_id, amount=Decimal("2.50"), currency="USD",
                                        idempotency_key="excess:ch:0")
    # then both are pending (as Stripe often reports), with the keys and parameters we sent
    assert (first.status, first.amount, first.payment_intent_id, first.charge_id) == (
        "pending", Decimal("5.00"), intent.id, paid.latest_charge_id)
    assert (second.status, second.amount) == ("pending", Decimal("2.50"))
    creates = _sent(fake_stripe, "POST", "/v1/refunds")
    assert [(r["idempotency_key"], r["params"]) for r in creates] == [
        ("refund:1:a", {"amount": "500", "payment_intent": intent.id,
                        "metadata": {"order_number": "1", "request_id": "a"}}),
        ("excess:ch:0", {"amount": "250", "charge": paid.latest_charge_id}),
    ]
    # and Stripe's later state is read back, one by one and as a list
    fake_stripe.set_refund_status(first.id, "succeeded")
    assert fake_gateway.retrieve_refund(first.id).status == "succeeded"
    listed = {r.id: r.status for r in fake_gateway.list_refunds(payment_intent_id=intent.id)}
    assert listed == {first.id: "succeeded", second.id: "pending"}
    charge = fake_gateway.retrieve_charge(paid.latest_charge_id)
    assert {r.id for r in charge.refunds} == {first.id, second.id}
    assert charge.amount_refunded == Decimal("7.50")


def test_a_refund_in_another_currency_than_the_charge_is_refused_before_any_money_moves(fake_gateway, fake_stripe):
    intent = fake_gateway.create_intent(amount=Decimal("20.00"), currency="USD", order_number="1", attempt=1)
    fake_gateway.confirm_intent(intent.id, payment_method="pm_card_visa")
    with pytest.raises(PaymentError, match="it was paid in USD"):
        fake_gateway.create_refund(payment_intent_id=intent.id, amount=Decimal("5"), currency="JPY",
                                   idempotency_key="refund:1:b")
    assert _sent(fake_stripe, "POST", "/v1/refunds") == []


def test_a_dispute_carries_its_balance_transactions(fake_gateway, fake_stripe):
    intent = fake_gateway.create_intent(amount=Decimal("20.00"), currency="USD", order_number="1", attempt=1)
    paid = fake_gateway.confirm_intent(intent.id, payment_method="pm_card_visa")
    made = fake_stripe.create_dispute(paid.latest_charge_id)
    dispute = fake_gateway.retrieve_dispute(made["id"])
    assert (dispute.amount, dispute.currency, dispute.status, dispute.charge_id, dispute.payment_intent_id) == (
        Decimal("20.00"), "USD", "needs_response", paid.latest_charge_id, intent.id)
    [withdrawal] = dispute.balance_transactions
    assert (withdrawal.amount, withdrawal.fee) == (Decimal("-20.00"), Decimal("15.00"))


@pytest.mark.parametrize("call", ["retrieve_intent", "retrieve_refund", "retrieve_dispute", "retrieve_charge"])
def test_an_object_stripe_does_not_have_is_object_not_found(fake_gateway, call):
    with pytest.raises(ObjectNotFound, match="Stripe has no such object"):
        getattr(fake_gateway, call)("pi_doesnotexist0000000000" if call == "retrieve_intent" else "x_nothing")


def test_the_localstripe_quirks_are_off_against_real_stripe_shapes(fake_stripe):
    # given a gateway told it talks to localstripe (which refuses the current parameters)
    lenient = StripeGateway(secret_key=fake_stripe.secret_key, webhook_secret=WEBHOOK_SECRET, api_base=fake_stripe.url,
                            max_network_retries=0, localstripe=True)
    # when it creates an intent against a real-shaped Stripe, then it leaves them out (and the fake, like
    # Stripe, accepts that: the demo mode never sends what localstripe refuses)
    lenient.create_intent(amount=Decimal("20.00"), currency="USD", order_number="1", attempt=1, receipt_email="a@b.c")
    [create] = _sent(fake_stripe, "POST", "/v1/payment_intents")
    assert "allowed_payment_method_types" not in create["params"] and "receipt_email" not in create["params"]


@pytest.mark.parametrize(("amount", "currency", "sent"), [
    (Decimal("500"), "JPY", "500"),
    (Decimal("5"), "ISK", "500"),          # Stripe: two-decimal amount ending in 00
    (Decimal("1234.00"), "HUF", "123400"),  # Stripe: two-decimal amount ending in 00
    (Decimal("300.00"), "TWD", "30000"),
    (Decimal("5000"), "UGX", "500000"),
    (Decimal("2000.00"), "MGA", "2000"),    # ISO has 2 decimals, Stripe none
    (Decimal("12.340"), "KWD", "12340"),    # three decimals, last digit 0
    (Decimal("12.34"), "EUR", "1234"),
])
def test_stripes_own_minor_units_at_the_boundary(fake_gateway, fake_stripe, amount, currency, sent):
    intent = fake_gateway.create_intent(amount=amount, currency=currency, order_number="1", attempt=1)
    [create] = _sent(fake_stripe, "POST", "/v1/payment_intents")
    assert create["params"]["amount"] == sent
    assert (intent.amount, intent.currency) == (amount, currency)


@pytest.mark.parametrize(("amount", "currency"), [
    (Decimal("10.50"), "HUF"), (Decimal("5.50"), "MGA"), (Decimal("12.345"), "KWD"), (Decimal("0.001"), "USD"),
])
def test_amounts_stripe_cannot_charge_are_refused_before_any_request(fake_gateway, fake_stripe, amount, currency):
    with pytest.raises(CurrencyError, match="Stripe cannot charge"):
        fake_gateway.create_intent(amount=amount, currency=currency, order_number="1", attempt=1)
    assert fake_stripe.requests() == []


def test_in_localstripe_mode_the_card_is_set_by_update_then_confirmed(fake_stripe):
    # localstripe cannot confirm with a payment method; the demo mode sets it first (valid on real Stripe too)
    lenient = StripeGateway(secret_key=fake_stripe.secret_key, webhook_secret=WEBHOOK_SECRET, api_base=fake_stripe.url,
                            max_network_retries=0, localstripe=True)
    intent = lenient.create_intent(amount=Decimal("20.00"), currency="USD", order_number="1", attempt=1)
    paid = lenient.confirm_intent(intent.id, payment_method="pm_card_visa")
    assert paid.status == "succeeded"
    update, confirm = [r for r in fake_stripe.requests(method="POST") if r["path"] != "/v1/payment_intents"]
    assert (update["path"], update["params"]) == (
        f"/v1/payment_intents/{intent.id}", {"payment_method": "pm_card_visa"})
    assert (confirm["path"], confirm["params"]) == (f"/v1/payment_intents/{intent.id}/confirm", {})
    # and localstripe's fee of 0 is never trusted: the gateway reports none in that mode
    assert lenient.retrieve_charge(paid.latest_charge_id).balance_transaction_fee is None
