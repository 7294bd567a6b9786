"""Hostile webhooks (issue 6), the gaps left by tests/payments/test_webhooks.py.

Already there: forged signature, stale timestamp, missing or empty header, body changed after signing,
malformed JSON, JSON that is not an event, an oversized body, a bad Content-Length, unknown types, an
intent that is not ours, an amount or currency that does not match the order (never paid, one note).
Here: signed bodies that are not UTF-8, not an object, or carry ids no Stripe object has. Each is a
clear 400 and writes nothing.
"""

import json

import pytest
from oscar.core.loading import get_model

from shop.payments.models import StripeEvent
from shop.payments.signing import sign_webhook_payload
from tests.payments.conftest import WEBHOOK_SECRET
from tests.payments.events import event, post_body, shop_rows

Order = get_model("order", "Order")


def _event_with(**changes):
    evt = event("payment_intent.succeeded", {"id": "pi_123", "object": "payment_intent"})
    obj = changes.pop("object", None)
    if obj is not None:
        evt["data"]["object"] = obj
    evt.update(changes)
    return json.dumps(evt).encode()


@pytest.mark.parametrize("case, body, detail", [
    ("not UTF-8", b'{"id": "evt_\xff\xfe", "object": "event"}', "body is not UTF-8"),
    ("a JSON array", b"[]", "body is not a Stripe snapshot event"),
    ("a JSON string", b'"event"', "body is not a Stripe snapshot event"),
    ("an event id of 10,000 characters", _event_with(id="evt_" + "x" * 10_000), "event id or type too long"),
    ("a type of 1,000 characters", _event_with(type="payment_intent." + "x" * 1_000), "event id or type too long"),
    ("an object id that is a number", _event_with(object={"id": 12345, "object": "payment_intent"}),
     "event object id is not a Stripe id"),
    ("an object id that is a path", _event_with(object={"id": "pi_1/../../v1/refunds", "object": "payment_intent"}),
     "event object id is not a Stripe id"),
    ("an object id of 1,000 characters", _event_with(object={"id": "pi_" + "1" * 1_000, "object": "payment_intent"}),
     "event object id is not a Stripe id"),
])
def test_signed_but_implausible_webhooks_are_refused_and_write_nothing(client, placed_order, stripe_peer, case,
                                                                        body, detail):
    before = shop_rows()
    response = post_body(client, body, signature=sign_webhook_payload(payload=body, secret=WEBHOOK_SECRET))
    assert response.status_code == 400
    assert response.json()["outcome"] == "rejected"
    assert response.json()["detail"].startswith(detail)
    assert shop_rows() == before
    assert StripeEvent.objects.count() == 0
    assert Order.objects.get(pk=placed_order.pk).status == "Pending payment"
