"""The page's confirmation racing the `payment_intent.succeeded` webhook for the same PaymentIntent (issue 6).

Both call the one idempotent capture service; the order row's lock serialises them and the second finds
the Source written. PostgreSQL only (real concurrent connections). The other race the issue names, a
disbursement racing a refund reversal on the same beneficiary, is
tests/fundraising/test_concurrency.py::test_a_disbursement_racing_a_refund_never_drives_a_payable_below_zero.
"""

import json

import pytest
from oscar.core.loading import get_model

from fundraising.models import LedgerTransaction
from fundraising.verification import ledger_violations
from shop.payments import services, webhooks
from shop.payments.models import PaymentAttempt, StripeEvent
from shop.payments.signing import sign_webhook_payload
from tests.concurrency import support
from tests.payments.conftest import WEBHOOK_SECRET
from tests.payments.events import intent_event, paid_at_stripe_only
from tests.racing import race

Order = get_model("order", "Order")
Source = get_model("payment", "Source")
PaymentEvent = get_model("order", "PaymentEvent")


@support.postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_the_confirmation_racing_the_webhook_captures_once(stripe_peer, gateway, round_):
    # given an order whose payment just succeeded at Stripe (3D Secure finished in the browser), and
    # Stripe's succeeded event for it (delivered twice, as Stripe may)
    support.load_shop()
    order = support.pending_order()
    intent = paid_at_stripe_only(gateway, order)
    body = json.dumps(intent_event(stripe_peer.url, "payment_intent.succeeded", intent.id)).encode()

    def confirmation():
        return services.check_attempt(order=Order.objects.get(pk=order.pk), intent_id=intent.id,
                                      gateway=gateway).status

    def webhook():
        parsed = gateway.parse_webhook(payload=body,
                                       signature_header=sign_webhook_payload(payload=body, secret=WEBHOOK_SECRET))
        return webhooks.handle_event(parsed, gateway=gateway).status_code

    # when the page's confirmation and the webhook deliveries run at the same instant
    calls = [confirmation, webhook, webhook] if round_ % 2 == 0 else [webhook, confirmation, webhook]
    results = race(*calls, daemon=True)

    # then both answer success, and there is one capture and one sale posting
    assert sorted(map(str, results)) == ["200", "200", "succeeded"], results
    assert Order.objects.get(pk=order.pk).status == "Paid"
    assert list(Source.objects.values_list("reference", "amount_debited")) == [(intent.id, order.total_incl_tax)]
    assert PaymentEvent.objects.filter(event_type__code="paid").count() == 1
    assert list(LedgerTransaction.objects.values_list("kind", "idempotency_key")) == [("sale", f"sale:{order.number}")]
    assert PaymentAttempt.objects.get(intent_id=intent.id).status == PaymentAttempt.SUCCEEDED
    assert StripeEvent.objects.get(event_id=json.loads(body)["id"]).outcome == StripeEvent.PROCESSED
    assert list(ledger_violations()) == []
