"""Webhook storm (issue 6): every event delivered 3 times, shuffled, by 20 clients to gunicorn (4 workers).

1,000 signed events by default (``P6_STORM_EVENTS`` scales it, e.g. 200 on a small machine):
half ``payment_intent.succeeded`` for intents really paid at localstripe (nothing captured by the shop
before), a fifth ``charge.refunded`` for partial refunds really made at localstripe on some of those
payments (so a refund may arrive before its payment's event), the rest event types the shop does not
handle. Disputes are not in the storm: localstripe has no disputes and the gunicorn workers cannot be
given a fake; they are covered in process by tests/payments/test_webhooks.py.

The reference is what one in-order delivery of each event gives, computed in process inside a
transaction that is rolled back; the storm's ledger and orders must equal it key for key.
"""

import json
import os
import queue
import random
import threading
import time
from collections import Counter
from decimal import Decimal

import pytest
from django.db import transaction
from oscar.core.loading import get_model

from fundraising.verification import ledger_violations
from shop.payments import webhooks
from shop.payments.models import StripeEvent, StripeRefund
from shop.payments.signing import sign_webhook_payload
from tests.concurrency import support
from tests.live_server import Gunicorn, post
from tests.payments.conftest import WEBHOOK_SECRET
from tests.payments.events import (
    WEBHOOK_URL,
    charge_refunded_event,
    event,
    intent_event,
    paid_at_stripe_only,
    signed_post,
    stripe_id,
)
from tests.stripe_peer import TEST_SECRET_KEY

Order = get_model("order", "Order")
StockRecord = get_model("partner", "StockRecord")

EVENTS = int(os.environ.get("P6_STORM_EVENTS", "1000"))
DELIVERIES = 3
CLIENTS = 20
WORKERS = 4
# Each delivery is one bounded request (60 s timeout); the storm is bounded by its count, EVENTS x DELIVERIES,
# never by the clock, so what it proves does not depend on the machine's speed.
UNHANDLED_TYPES = ["customer.created", "invoice.paid", "product.updated", "payment_method.attached",
                   "balance.available", "payout.paid"]


class _Rollback(Exception):
    pass


def _build_events(gateway, peer_url, count):
    """Orders paid at Stripe only, refunds at Stripe, and their events (plus unhandled ones)."""
    n_paid, n_refunds = count // 2, count // 5
    StockRecord.objects.update(num_in_stock=100_000)
    events = []
    for n in range(n_paid):
        order = support.pending_order(n=n)
        intent = paid_at_stripe_only(gateway, order)
        events.append(intent_event(peer_url, "payment_intent.succeeded", intent.id))
        if n < n_refunds:
            gateway.create_refund(payment_intent_id=intent.id, amount=Decimal("10.00"), currency="USD",
                                  idempotency_key=f"storm-refund-{n}")
            events.append(charge_refunded_event(peer_url, intent.latest_charge_id))
    while len(events) < count:
        kind = UNHANDLED_TYPES[len(events) % len(UNHANDLED_TYPES)]
        events.append(event(kind, {"id": stripe_id("obj"), "object": kind.split(".")[0]}))
    return events


def _reference(events, gateway):
    """The ledger and orders after one in-order delivery of each event, rolled back afterwards."""
    try:
        with transaction.atomic():
            for evt in events:
                body = json.dumps(evt).encode()
                parsed = gateway.parse_webhook(
                    payload=body, signature_header=sign_webhook_payload(payload=body, secret=WEBHOOK_SECRET))
                assert webhooks.handle_event(parsed, gateway=gateway).status_code == 200
            snapshot = support.ledger_snapshot(), support.shop_snapshot()
            raise _Rollback
    except _Rollback:
        pass
    assert StripeEvent.objects.count() == 0
    return snapshot


def _deliver(url, evt):
    body = json.dumps(evt).encode()
    headers = {"Content-Type": "application/json",
               "Stripe-Signature": sign_webhook_payload(payload=body, secret=WEBHOOK_SECRET)}
    status, _ = post(url + WEBHOOK_URL, body, headers=headers, timeout=60)
    return status


def _storm(url, events):
    """Every event DELIVERIES times, shuffled, by CLIENTS threads, until the queue is empty."""
    deliveries = [evt for evt in events for _ in range(DELIVERIES)]
    random.Random(6).shuffle(deliveries)
    work = queue.SimpleQueue()
    for evt in deliveries:
        work.put(evt)
    answers = {evt["id"]: [] for evt in events}
    lock = threading.Lock()

    def client():
        while True:
            try:
                evt = work.get_nowait()
            except queue.Empty:
                return
            status = _deliver(url, evt)
            with lock:
                answers[evt["id"]].append(status)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert work.empty()
    return answers


@support.postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_storm_of_duplicated_shuffled_webhooks_gives_the_ledger_of_one_in_order_delivery(stripe_peer, gateway,
                                                                                           settings):
    # given orders paid at Stripe only (half of the events), partial refunds made at Stripe on some of
    # them, and unhandled event types
    started = time.monotonic()
    support.load_shop()
    events = _build_events(gateway, stripe_peer.url, EVENTS)
    assert len(events) == EVENTS
    expected_ledger, expected_shop = _reference(events, gateway)
    kinds = Counter(evt["type"] for evt in events)
    prepared = time.monotonic()

    # when each is delivered 3 times, in random order, by 20 clients to gunicorn with 4 workers
    env = {
        "STRIPE_SECRET_KEY": TEST_SECRET_KEY, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": stripe_peer.url, "STRIPE_TIMEOUT": "30", "STRIPE_MAX_NETWORK_RETRIES": "0",
        "STRIPE_PEER": "localstripe",
        "STRIPE_FEE_PERCENT": str(settings.STRIPE_FEE_PERCENT), "STRIPE_FEE_FIXED": str(settings.STRIPE_FEE_FIXED),
    }
    with Gunicorn(env=env, workers=WORKERS) as server:
        answers = _storm(server.url, events)
        # Stripe retries what was not acknowledged: up to 3 more rounds for events without a 2xx
        retried = 0
        for _ in range(3):
            unacknowledged = [evt for evt in events if not any(s and 200 <= s < 300 for s in answers[evt["id"]])]
            for evt in unacknowledged:
                answers[evt["id"]].append(_deliver(server.url, evt))
                retried += 1
        log = server.output()
    stormed = time.monotonic()

    # then every event was acknowledged, each stored once, and processed or ignored once
    statuses = Counter(s for answer in answers.values() for s in answer)
    print(f"\nstorm: {len(events)} events {dict(kinds)}, {sum(statuses.values())} deliveries {dict(statuses)}, "
          f"{retried} retried; prepare {prepared - started:.1f}s, storm {stormed - prepared:.1f}s")
    assert all(any(s and 200 <= s < 300 for s in answer) for answer in answers.values()), (statuses, log)
    assert sum(len(answer) for answer in answers.values()) == EVENTS * DELIVERIES + retried
    stored = Counter(StripeEvent.objects.values_list("outcome", flat=True))
    assert stored == Counter({StripeEvent.PROCESSED: kinds["payment_intent.succeeded"] + kinds["charge.refunded"],
                              StripeEvent.IGNORED: EVENTS - kinds["payment_intent.succeeded"]
                              - kinds["charge.refunded"]})
    # and the ledger and the orders are exactly those of one in-order delivery
    ledger, balances = support.ledger_snapshot()
    assert balances == expected_ledger[1]
    assert ledger == expected_ledger[0]
    assert support.shop_snapshot() == expected_shop
    assert sum(1 for kind, _, _ in ledger.values() if kind == "sale") == kinds["payment_intent.succeeded"]
    assert sum(1 for kind, _, _ in ledger.values() if kind == "refund") == kinds["charge.refunded"]
    assert StripeRefund.objects.filter(status=StripeRefund.SUCCEEDED).count() == kinds["charge.refunded"]
    assert Order.objects.filter(status="Paid").count() == kinds["payment_intent.succeeded"]
    assert list(ledger_violations()) == []


def test_a_refund_event_before_the_payment_event_is_recorded_not_lost(db, client, stripe_peer, gateway):
    # given an order paid at Stripe only and partly refunded there; Stripe sends charge.refunded first
    support.load_shop()
    order = support.pending_order()
    intent = paid_at_stripe_only(gateway, order)
    refund = gateway.create_refund(payment_intent_id=intent.id, amount=Decimal("10.00"), currency="USD",
                                   idempotency_key="early-refund")
    refunded = charge_refunded_event(stripe_peer.url, intent.latest_charge_id)
    succeeded = intent_event(stripe_peer.url, "payment_intent.succeeded", intent.id)

    # when the refund event arrives, then the payment event
    assert signed_post(client, refunded).status_code == 200
    assert signed_post(client, succeeded).status_code == 200

    # then the order is captured once and the refund recorded once, with its reversal
    ledger, _ = support.ledger_snapshot()
    assert sorted((kind, key) for key, (kind, _, _) in ledger.items()) == [
        ("refund", f"refund:{refund.id}"), ("sale", f"sale:{order.number}")]
    assert Order.objects.get(pk=order.pk).status == "Paid"
    assert list(StripeRefund.objects.values_list("refund_id", "status", "amount")) == [
        (refund.id, StripeRefund.SUCCEEDED, Decimal("10.00"))]
    assert list(ledger_violations()) == []
