"""Webhooks processed by real Celery worker processes (issue 14), on PostgreSQL with Redis as the broker.

The events are the storm's (tests/concurrency/test_webhook_storm.py): orders paid at localstripe only,
partial refunds made there, and event types the shop does not handle; each is delivered twice. The reference
is one in-order inline delivery, rolled back; the workers' ledger and orders must equal it key for key.
"""

from collections import Counter

import pytest

from fundraising.verification import ledger_violations
from shop.jobs import periodic
from shop.jobs.models import JobRun, OutgoingEmail
from shop.payments.models import StripeEvent
from tests.background import CeleryWorker, wait_for
from tests.concurrency import support
from tests.concurrency.test_webhook_storm import _build_events, _reference
from tests.payments.conftest import WEBHOOK_SECRET
from tests.payments.events import signed_post
from tests.stripe_peer import TEST_SECRET_KEY, free_port

EVENTS = 200
LOST = 50  # messages dropped from Redis before any worker took them


def _worker_env(settings, api_base, **extra):
    env = {
        "STRIPE_SECRET_KEY": TEST_SECRET_KEY, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, "STRIPE_API_BASE": api_base,
        "STRIPE_TIMEOUT": "30", "STRIPE_MAX_NETWORK_RETRIES": "0", "STRIPE_PEER": "localstripe",
        "STRIPE_FEE_PERCENT": str(settings.STRIPE_FEE_PERCENT), "STRIPE_FEE_FIXED": str(settings.STRIPE_FEE_FIXED),
    }
    env.update(extra)
    return env


def _outcomes():
    return Counter(StripeEvent.objects.values_list("outcome", "attempts"))


def _emails_owed():
    return OutgoingEmail.objects.filter(status=OutgoingEmail.PENDING).count()


def _unfinished():
    return StripeEvent.objects.exclude(outcome__in=(StripeEvent.PROCESSED, StripeEvent.IGNORED)).count()


@support.postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_processes_a_burst_once_and_the_sweep_recovers_lost_messages(client, stripe_peer, gateway,
                                                                              settings, broker):
    # given the storm's events for orders paid and partly refunded at Stripe only
    support.load_shop()
    events = _build_events(gateway, stripe_peer.url, EVENTS)
    expected_ledger, expected_shop = _reference(events, gateway)
    kinds = Counter(evt["type"] for evt in events)
    handled = kinds["payment_intent.succeeded"] + kinds["charge.refunded"]

    # when each is delivered twice with no worker running
    answers = Counter()
    for evt in events + events:
        response = signed_post(client, evt)
        answers[(response.status_code, response.json()["outcome"])] += 1

    # then every delivery was answered 2xx at once, each event stored once and queued once, nothing processed
    assert answers == Counter({(200, "received"): EVENTS, (200, "duplicate"): EVENTS})
    assert StripeEvent.objects.filter(outcome=StripeEvent.RECEIVED, attempts=0, deliveries=2).count() == EVENTS
    assert broker.queued() == EVENTS
    assert support.shop_snapshot() != expected_shop

    # when the broker loses some messages before any worker takes them, and a worker then runs
    for _ in range(LOST):
        assert broker.redis.rpop("celery") is not None
    with CeleryWorker(broker, env=_worker_env(settings, stripe_peer.url)) as worker:
        # (and their paid emails sent: an email task still in flight would be swept too)
        wait_for(lambda: _unfinished() == LOST and broker.queued() == 0 and _emails_owed() == 0,
                 what=f"{EVENTS - LOST} events processed and their emails sent",
                 explain=lambda: f"{_outcomes()} queued {broker.queued()} emails owed {_emails_owed()}\n"
                                 f"{worker.output()}")

        # then the events whose messages were lost wait, received; the sweep sends them again
        assert StripeEvent.objects.filter(outcome=StripeEvent.RECEIVED).count() == LOST
        settings.SHOP_SWEEP_AFTER_SECONDS = 0
        run = periodic.sweep()
        assert (run.outcome, run.summary) == (JobRun.OK, f"re-enqueued {LOST} webhook event(s), 0 email(s)")
        wait_for(lambda: _unfinished() == 0, what="the swept events processed",
                 explain=lambda: f"{_outcomes()}\n{worker.output()}")
        log = worker.output()

    # and every sale and reversal is in the ledger exactly once, as one in-order delivery gives
    stored = Counter(StripeEvent.objects.values_list("outcome", flat=True))
    assert stored == Counter({StripeEvent.PROCESSED: handled, StripeEvent.IGNORED: EVENTS - handled}), log
    assert StripeEvent.objects.filter(attempts=1).count() == EVENTS
    ledger, balances = support.ledger_snapshot()
    assert balances == expected_ledger[1]
    assert ledger == expected_ledger[0]
    assert support.shop_snapshot() == expected_shop
    assert sum(1 for kind, _, _ in ledger.values() if kind == "sale") == kinds["payment_intent.succeeded"]
    assert sum(1 for kind, _, _ in ledger.values() if kind == "refund") == kinds["charge.refunded"]
    assert list(ledger_violations()) == []


@support.postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_worker_retries_with_backoff_then_leaves_the_event_failed_for_staff(client, staff_client, stripe_peer,
                                                                               gateway, settings, broker):
    # given an order paid at Stripe only, and a worker that cannot reach Stripe (3 attempts, quick backoff)
    support.load_shop()
    events = _build_events(gateway, stripe_peer.url, 2)  # one paid order's event, one unhandled
    paid = next(evt for evt in events if evt["type"] == "payment_intent.succeeded")
    before = support.shop_snapshot()
    (number,) = before[0]
    env = _worker_env(settings, f"http://127.0.0.1:{free_port()}", SHOP_WEBHOOK_MAX_ATTEMPTS="3",
                      SHOP_WEBHOOK_RETRY_SECONDS="0.2")

    # when the event is delivered and the worker tries it
    assert signed_post(client, paid).json() == {"outcome": "received", "detail": "queued"}
    with CeleryWorker(broker, env=env) as worker:
        row = wait_for(lambda: StripeEvent.objects.filter(event_id=paid["id"], outcome=StripeEvent.FAILED,
                                                          next_attempt_at__isnull=True).first(),
                       what="the event failed for good")
        log = worker.output()

    # then it was tried exactly 3 times, the last error is kept, nothing was written, and no retry is left
    assert row.attempts == 3, log
    assert row.detail.startswith("StripeUnreachable") and "Traceback" in row.error
    assert broker.queued() == 0
    assert support.shop_snapshot() == before and before[0] == {number: "Pending payment"}
    assert list(support.ledger_snapshot()[0]) == []

    # when staff process it again once Stripe can be reached from the shop
    listing = staff_client.get("/dashboard/payments/webhook-events/?outcome=failed").content.decode()
    assert paid["id"] in listing and "not retried: process it again" in listing
    response = staff_client.post(f"/dashboard/payments/webhook-events/{row.pk}/", follow=True)

    # then it is processed once: the order paid, one sale
    assert f"Event {paid['id']} processed: order {number}: captured" in response.content.decode()
    row.refresh_from_db()
    assert (row.outcome, row.attempts, row.next_attempt_at) == (StripeEvent.PROCESSED, 4, None)
    ledger, _ = support.ledger_snapshot()
    assert [kind for kind, _, _ in ledger.values()] == ["sale"]
    assert support.shop_snapshot()[0] == {number: "Paid"}
    assert list(ledger_violations()) == []
