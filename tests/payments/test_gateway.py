"""The Stripe gateway against a real localstripe process through the real stripe SDK (no mocks).

What localstripe gets wrong is not asserted here as Stripe behaviour (DESIGN "Stripe boundary");
where a test has to route around it, the comment says so.
"""

import hashlib
import hmac
import json
import socket
import threading
import time
from decimal import Decimal

import pytest
from oscar.apps.payment.exceptions import PaymentError, UnableToTakePayment

from fundraising.money import CurrencyError
from shop.payments.gateway import (
    GatewayNotConfigured,
    InvalidWebhook,
    StripeGateway,
    WebhookEvent,
    get_gateway,
)
from shop.payments.signing import sign_webhook_payload
from tests.payments.conftest import WEBHOOK_SECRET
from tests.stripe_peer import (
    TEST_SECRET_KEY,
    authenticate_intent,
    count_objects,
    create_card_payment_method,
    create_uncaptured_charge,
    free_port,
    request,
)

THREE_DS_CARD = "4000002500003155"


def _paid_intent(gateway, *, amount, currency="USD", order_number="100001"):
    intent = gateway.create_intent(amount=amount, currency=currency, order_number=order_number, attempt=1)
    return gateway.confirm_intent(intent.id, payment_method="pm_card_visa")


# --- payment intents ------------------------------------------------------------------------------


def test_create_intent_sends_minor_units_and_order_metadata(gateway, localstripe_url):
    # given an order total of 12.34 USD
    # when the gateway creates the intent
    intent = gateway.create_intent(
        amount=Decimal("12.34"), currency="usd", order_number="100042", attempt=3, metadata={"basket": 7}
    )

    # then Stripe holds 1234 cents and the order reference, and nothing is confirmed yet
    assert intent.status == "requires_payment_method"
    assert intent.amount == Decimal("12.34")
    assert intent.currency == "USD"
    assert intent.amount_received == Decimal("0.00")
    assert intent.metadata == {"basket": "7", "order_number": "100042", "attempt": "3"}
    assert intent.latest_charge_id is None
    assert intent.client_secret.startswith(f"{intent.id}_secret_")
    raw = request("GET", localstripe_url, f"/v1/payment_intents/{intent.id}")
    assert (raw["amount"], raw["currency"]) == (1234, "usd")


def test_confirm_with_visa_succeeds_and_receives_the_exact_amount(gateway):
    # given an unconfirmed intent for 25.00 USD
    intent = gateway.create_intent(amount=Decimal("25.00"), currency="USD", order_number="100001", attempt=1)

    # when it is confirmed on the server with Stripe's test Visa
    confirmed = gateway.confirm_intent(intent.id, payment_method="pm_card_visa")

    # then it succeeded for exactly the amount, with a charge, and retrieving agrees
    assert confirmed.status == "succeeded"
    assert confirmed.amount_received == Decimal("25.00")
    assert confirmed.currency == "USD"
    assert confirmed.latest_charge_id.startswith("ch_")
    assert confirmed.last_error_message is None
    assert confirmed.next_action_type is None
    assert gateway.retrieve_intent(intent.id) == confirmed


def test_declined_card_raises_unable_to_take_payment_and_leaves_intent_failed(gateway):
    # given an unconfirmed intent
    intent = gateway.create_intent(amount=Decimal("19.99"), currency="USD", order_number="100002", attempt=1)

    # when it is confirmed with a card whose charge is declined
    # (localstripe charges pm_card_visa_chargeDeclined successfully; pm_card_chargeCustomerFail,
    # card 4000000000000341, is the one it declines at charge time, as real Stripe does)
    with pytest.raises(UnableToTakePayment) as declined:
        gateway.confirm_intent(intent.id, payment_method="pm_card_chargeCustomerFail")

    # then the fan gets Stripe's decline message and the intent needs another payment method
    assert str(declined.value) == "Your card was declined."
    assert declined.value.code == "card_declined"
    after = gateway.retrieve_intent(intent.id)
    assert after.status == "requires_payment_method"
    assert after.amount_received == Decimal("0.00")
    assert after.last_error_message == "Your card was declined."


def test_3ds_card_requires_action_then_succeeds_after_authentication(gateway, localstripe_url):
    # given an intent and a PaymentMethod for a card that asks for 3D Secure
    payment_method = create_card_payment_method(localstripe_url, THREE_DS_CARD)
    intent = gateway.create_intent(amount=Decimal("30.00"), currency="USD", order_number="100003", attempt=1)

    # when it is confirmed, then the browser must act
    pending = gateway.confirm_intent(intent.id, payment_method=payment_method)
    assert pending.status == "requires_action"
    assert pending.next_action_type == "use_stripe_sdk"
    assert pending.payment_method == payment_method
    assert pending.amount_received == Decimal("0.00")

    # when the fan passes authentication
    authenticate_intent(localstripe_url, intent.id, client_secret=pending.client_secret, success=True)

    # then the intent succeeded for the full amount
    done = gateway.retrieve_intent(intent.id)
    assert done.status == "succeeded"
    assert done.amount_received == Decimal("30.00")
    assert done.next_action_type is None


def test_3ds_failed_authentication_returns_an_intent_that_needs_a_new_payment_method(gateway, localstripe_url):
    # given a 3DS intent waiting for the browser
    payment_method = create_card_payment_method(localstripe_url, THREE_DS_CARD)
    intent = gateway.create_intent(amount=Decimal("30.00"), currency="USD", order_number="100004", attempt=1)
    pending = gateway.confirm_intent(intent.id, payment_method=payment_method)

    # when the fan fails authentication
    authenticate_intent(localstripe_url, intent.id, client_secret=pending.client_secret, success=False)

    # then retrieving is not an error: the intent reports the failure and wants another card
    failed = gateway.retrieve_intent(intent.id)
    assert failed.status == "requires_payment_method"
    assert failed.payment_method is None
    assert failed.amount_received == Decimal("0.00")
    assert failed.last_error_message == "The provided PaymentMethod has failed authentication."


def test_cancel_unpaid_intent(gateway):
    # given an unconfirmed intent
    intent = gateway.create_intent(amount=Decimal("8.00"), currency="USD", order_number="100005", attempt=1)

    # when it is cancelled
    cancelled = gateway.cancel_intent(intent.id)

    # then Stripe reports it cancelled, with nothing received
    assert cancelled.status == "canceled"
    assert cancelled.amount_received == Decimal("0.00")
    assert gateway.retrieve_intent(intent.id).status == "canceled"


def test_cancelling_a_paid_intent_raises_payment_error_and_keeps_it_paid(gateway):
    # given a paid intent
    paid = _paid_intent(gateway, amount=Decimal("8.00"))

    # when cancelling it, then Stripe refuses
    with pytest.raises(PaymentError) as refused:
        gateway.cancel_intent(paid.id)
    assert not isinstance(refused.value, UnableToTakePayment)
    assert gateway.retrieve_intent(paid.id).status == "succeeded"


def test_jpy_amounts_round_trip_in_whole_yen(gateway, localstripe_url):
    # given a 1500 JPY order (JPY has no minor unit)
    # when it is paid and 500 JPY refunded
    paid = _paid_intent(gateway, amount=Decimal("1500"), currency="jpy")
    refund = gateway.create_refund(
        payment_intent_id=paid.id, amount=Decimal("500"), currency="JPY", idempotency_key="refund:jpy:1"
    )

    # then Stripe saw 1500 and 500 (not 150000), and both come back at JPY's scale
    assert request("GET", localstripe_url, f"/v1/payment_intents/{paid.id}")["amount"] == 1500
    assert (paid.amount, paid.amount_received, paid.currency) == (Decimal("1500"), Decimal("1500"), "JPY")
    assert str(paid.amount) == "1500"
    assert (refund.amount, refund.currency) == (Decimal("500"), "JPY")
    charge = gateway.retrieve_charge(paid.latest_charge_id)
    assert (charge.amount, charge.amount_refunded) == (Decimal("1500"), Decimal("500"))


def test_amount_finer_than_the_minor_unit_is_refused_before_any_request(gateway, localstripe_url):
    # given amounts Stripe cannot represent
    # when creating intents for them, then they are refused and nothing reaches Stripe
    with pytest.raises(CurrencyError):
        gateway.create_intent(amount=Decimal("10.005"), currency="USD", order_number="100006", attempt=1)
    with pytest.raises(CurrencyError):
        gateway.create_intent(amount=Decimal("10.5"), currency="JPY", order_number="100006", attempt=2)
    assert count_objects(localstripe_url, "payment_intents") == 0


# --- charges and refunds --------------------------------------------------------------------------


def test_retrieve_charge_of_a_paid_intent(gateway):
    # given a paid intent
    paid = _paid_intent(gateway, amount=Decimal("42.50"))

    # when its charge is retrieved
    charge = gateway.retrieve_charge(paid.latest_charge_id)

    # then amounts and links; localstripe's balance transaction says fee 0, which it never took, so the
    # gateway in localstripe mode reports no fee (the ledger then estimates it from the fee schedule)
    assert charge.id == paid.latest_charge_id
    assert charge.amount == Decimal("42.50")
    assert charge.amount_refunded == Decimal("0.00")
    assert charge.currency == "USD"
    assert charge.payment_intent_id == paid.id
    assert charge.balance_transaction_fee is None
    assert charge.balance_transaction.fee == Decimal("0.00")
    assert charge.refunds == ()
    assert charge.disputed is False


def test_charge_without_a_balance_transaction_reports_no_fee(gateway, localstripe_url):
    # given an authorised, uncaptured charge (no balance transaction exists yet)
    charge_id = create_uncaptured_charge(localstripe_url, amount_minor=500, currency="usd")

    # when it is retrieved
    charge = gateway.retrieve_charge(charge_id)

    # then the fee is unknown, not zero
    assert charge.balance_transaction_fee is None
    assert (charge.amount, charge.currency) == (Decimal("5.00"), "USD")


def test_partial_refund_refunds_exactly_that_amount(gateway):
    # given a paid intent of 25.00 USD
    paid = _paid_intent(gateway, amount=Decimal("25.00"))

    # when 10.01 is refunded
    refund = gateway.create_refund(
        payment_intent_id=paid.id,
        amount=Decimal("10.01"),
        currency="USD",
        idempotency_key="refund:100001:1",
        metadata={"order_number": "100001"},
    )

    # then the refund and the charge show exactly 10.01 refunded
    assert refund.id.startswith("re_")
    assert refund.amount == Decimal("10.01")
    assert refund.currency == "USD"
    assert refund.status == "succeeded"
    assert refund.charge_id == paid.latest_charge_id
    assert refund.payment_intent_id == paid.id
    assert refund.metadata == {"order_number": "100001"}
    assert gateway.retrieve_refund(refund.id) == refund
    charge = gateway.retrieve_charge(paid.latest_charge_id)
    assert charge.amount_refunded == Decimal("10.01")
    assert charge.refunds == (refund,)


def test_refunding_the_rest_refunds_the_charge_in_full(gateway):
    # given a paid intent of 25.00 USD with 10.01 already refunded
    paid = _paid_intent(gateway, amount=Decimal("25.00"))
    first = gateway.create_refund(
        payment_intent_id=paid.id, amount=Decimal("10.01"), currency="USD", idempotency_key="refund:a"
    )

    # when the remaining 14.99 is refunded
    second = gateway.create_refund(
        payment_intent_id=paid.id, amount=Decimal("14.99"), currency="USD", idempotency_key="refund:b"
    )

    # then the whole 25.00 is refunded, as two refunds
    charge = gateway.retrieve_charge(paid.latest_charge_id)
    assert second.amount == Decimal("14.99")
    assert charge.amount_refunded == Decimal("25.00")
    assert sorted(r.id for r in charge.refunds) == sorted([first.id, second.id])
    assert sum(r.amount for r in charge.refunds) == Decimal("25.00")


def test_refund_in_another_currency_is_refused_before_any_refund(gateway, localstripe_url):
    # given a USD payment
    paid = _paid_intent(gateway, amount=Decimal("25.00"))

    # when a refund is asked in JPY, then it is refused and no refund exists
    with pytest.raises(PaymentError) as refused:
        gateway.create_refund(payment_intent_id=paid.id, amount=Decimal("25"), currency="JPY", idempotency_key="x")
    assert str(refused.value) == f"cannot refund 25 JPY of {paid.id}: it was paid in USD"
    assert count_objects(localstripe_url, "refunds") == 0


def test_unknown_dispute_raises_payment_error(gateway):
    # given no such dispute (localstripe has no disputes at all)
    # when it is retrieved, then it is a gateway error, not a card error
    with pytest.raises(PaymentError) as failed:
        gateway.retrieve_dispute("dp_does_not_exist")
    assert not isinstance(failed.value, UnableToTakePayment)
    assert "retrieve a dispute" in str(failed.value)


# --- configuration and unavailable Stripe ---------------------------------------------------------


def test_empty_secret_key_is_gateway_not_configured():
    # given no secret key, when a gateway is built, then it refuses
    with pytest.raises(GatewayNotConfigured):
        StripeGateway(secret_key="", webhook_secret=WEBHOOK_SECRET)


def test_get_gateway_reads_django_settings_at_call_time(settings, localstripe_url):
    # given Stripe settings pointing at localstripe
    settings.STRIPE_SECRET_KEY = TEST_SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = localstripe_url
    settings.STRIPE_PEER = "localstripe"

    # when a gateway is built from them
    gateway = get_gateway()

    # then it talks to localstripe
    assert gateway.api_base == localstripe_url
    assert gateway.localstripe is True
    intent = gateway.create_intent(amount=Decimal("1.00"), currency="USD", order_number="100007", attempt=1)
    assert gateway.retrieve_intent(intent.id).amount == Decimal("1.00")


def test_get_gateway_without_secret_key_is_not_configured(settings):
    # given no secret key in settings, when a gateway is asked for, then it refuses
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(GatewayNotConfigured):
        get_gateway()


def test_rejected_api_key_raises_payment_error(localstripe_url):
    # given a key Stripe does not accept
    gateway = StripeGateway(secret_key="not-a-key", webhook_secret="", api_base=localstripe_url, max_network_retries=0,
                            localstripe=True)

    # when calling Stripe, then it is a gateway error, not a card error
    with pytest.raises(PaymentError) as failed:
        gateway.create_intent(amount=Decimal("1.00"), currency="USD", order_number="100008", attempt=1)
    assert not isinstance(failed.value, UnableToTakePayment)
    assert "AuthenticationError HTTP 401" in str(failed.value)


def test_unreachable_stripe_raises_payment_error():
    # given nothing listening on the configured address
    gateway = StripeGateway(
        secret_key=TEST_SECRET_KEY,
        webhook_secret="",
        api_base=f"http://127.0.0.1:{free_port()}",
        timeout=2,
        max_network_retries=0,
    )

    # when creating an intent, then a PaymentError says Stripe could not be reached
    with pytest.raises(PaymentError) as failed:
        gateway.create_intent(amount=Decimal("1.00"), currency="USD", order_number="100009", attempt=1)
    assert not isinstance(failed.value, UnableToTakePayment)
    assert str(failed.value).startswith("Could not reach Stripe while trying to create a payment intent")


@pytest.fixture
def silent_server():
    """A 127.0.0.1 server that accepts connections and never answers."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.05)
    held = []
    stop = threading.Event()

    def accept_forever():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", held
    stop.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    server.close()


def test_hanging_stripe_raises_payment_error_after_the_timeout(silent_server):
    # given a Stripe that accepts the connection and never answers
    url, connections = silent_server
    gateway = StripeGateway(
        secret_key=TEST_SECRET_KEY, webhook_secret="", api_base=url, timeout=1, max_network_retries=0
    )

    # when retrieving an intent, then the client gives up with a PaymentError
    with pytest.raises(PaymentError) as failed:
        gateway.retrieve_intent("pi_123")
    assert str(failed.value).startswith("Could not reach Stripe while trying to retrieve a payment intent")
    assert len(connections) == 1


# --- webhooks -------------------------------------------------------------------------------------


def _event_body(*, event_id="evt_1", type="payment_intent.succeeded", obj=None):
    obj = obj or {"id": "pi_123", "object": "payment_intent", "amount": 2500, "currency": "usd"}
    return json.dumps(
        {"id": event_id, "object": "event", "type": type, "created": 1700000000, "data": {"object": obj}}
    ).encode()


def test_webhook_with_valid_signature_parses(gateway):
    # given an event signed with the endpoint's secret just now
    body = _event_body()
    header = sign_webhook_payload(payload=body, secret=WEBHOOK_SECRET)

    # when it is parsed
    event = gateway.parse_webhook(payload=body, signature_header=header)

    # then it is the event, as plain data
    assert event == WebhookEvent(
        id="evt_1",
        type="payment_intent.succeeded",
        created=1700000000,
        object_type="payment_intent",
        object_id="pi_123",
        payload=json.loads(body),
    )


def test_webhook_signed_four_minutes_ago_is_still_accepted(gateway):
    # given an event signed within Stripe's 300 s tolerance
    body = _event_body(type="charge.refunded", obj={"id": "ch_1", "object": "charge"})
    header = sign_webhook_payload(payload=body, secret=WEBHOOK_SECRET, timestamp=int(time.time()) - 240)

    # when it is parsed, then it is accepted
    event = gateway.parse_webhook(payload=body, signature_header=header)
    assert (event.type, event.object_type, event.object_id) == ("charge.refunded", "charge", "ch_1")


@pytest.mark.parametrize(
    "case",
    ["forged", "tampered", "stale", "missing", "empty", "garbage header"],
)
def test_webhook_with_bad_signature_is_invalid(gateway, case):
    # given an event whose signature must not be trusted
    body = _event_body()
    header = {
        "forged": sign_webhook_payload(payload=body, secret="whsec_someone_else"),
        "tampered": sign_webhook_payload(payload=_event_body(event_id="evt_other"), secret=WEBHOOK_SECRET),
        "stale": sign_webhook_payload(payload=body, secret=WEBHOOK_SECRET, timestamp=int(time.time()) - 600),
        "missing": None,
        "empty": "",
        "garbage header": "not a signature",
    }[case]

    # when it is parsed, then it is refused
    with pytest.raises(InvalidWebhook):
        gateway.parse_webhook(payload=body, signature_header=header)


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe",
        b"[]",
        b'{"id": "evt_1", "object": "event", "type": "x"}',
        b'{"id": "evt_1", "object": "event", "type": "x", "data": []}',
        b'{"id": "evt_1", "object": "v2.core.event", "type": "x", "data": {"object": {}}}',
    ],
    ids=["malformed JSON", "not UTF-8", "not an object", "no data.object", "data not an object", "thin event"],
)
def test_webhook_body_that_is_not_a_stripe_event_is_invalid(gateway, body):
    # given a correctly signed body that is not a Stripe event
    header = sign_webhook_payload(payload=body, secret=WEBHOOK_SECRET)

    # when it is parsed, then it is refused
    with pytest.raises(InvalidWebhook):
        gateway.parse_webhook(payload=body, signature_header=header)


def test_webhook_without_signing_secret_is_not_configured(localstripe_url):
    # given a gateway without STRIPE_WEBHOOK_SECRET
    gateway = StripeGateway(secret_key=TEST_SECRET_KEY, webhook_secret="", api_base=localstripe_url, localstripe=True)
    body = _event_body()

    # when a webhook arrives, then it is a configuration error, not a bad request
    with pytest.raises(GatewayNotConfigured):
        gateway.parse_webhook(payload=body, signature_header=sign_webhook_payload(payload=body, secret="x"))


def test_signature_header_is_stripes_format():
    # given a body, a secret and a time
    body = b'{"id": "evt_1"}'

    # when it is signed
    header = sign_webhook_payload(payload=body, secret="whsec_abc", timestamp=1700000000)

    # then it is t=<time>,v1=<HMAC-SHA256 of "<time>.<body>">
    digest = hmac.new(b"whsec_abc", b'1700000000.{"id": "evt_1"}', hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={digest}"
