"""Faults (issue 6): the Stripe peer stopped mid-checkout, Stripe hanging at confirmation, a database
error while the donation is posted (through gunicorn), and the process killed between Stripe's success
and our write. Each ends with the ledger verified clean.

Already covered elsewhere, not repeated here: Stripe unreachable or hanging before any intent exists
(tests/payments/test_checkout_payment.py), a webhook whose Stripe look-up fails and its retry, and a
failure raised while the capture is written, in process (tests/payments/test_webhooks.py).
"""

import json
import signal
import socket
import subprocess
import sys
import threading
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from oscar.core.loading import get_model

from fundraising.models import LedgerTransaction
from fundraising.verification import ledger_violations
from shop.payments.gateway import StripeGateway
from shop.payments.models import PaymentAttempt, StripeEvent
from shop.payments.signing import sign_webhook_payload
from tests.concurrency import support
from tests.live_server import Gunicorn, database_url, post
from tests.payments.conftest import WEBHOOK_SECRET
from tests.payments.events import WEBHOOK_URL, intent_event, paid_at_stripe_only, shop_rows
from tests.stripe_peer import TEST_SECRET_KEY, LocalStripe

Order = get_model("order", "Order")
Source = get_model("payment", "Source")
PaymentEvent = get_model("order", "PaymentEvent")

SCRIPT = Path(__file__).resolve().parent / "pay_and_die.py"


def _pay(client, order, **data):
    return client.post(reverse("checkout:pay", kwargs={"order_number": order.number}), data,
                       HTTP_ACCEPT="application/json")


def _nothing_captured(order):
    order = Order.objects.get(pk=order.pk)
    assert order.status == "Pending payment"
    assert Source.objects.filter(order=order).count() == 0
    assert PaymentEvent.objects.filter(order=order).count() == 0
    assert LedgerTransaction.objects.filter(order=order).count() == 0


def _stripe_env(url):
    return {"STRIPE_SECRET_KEY": TEST_SECRET_KEY, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, "STRIPE_API_BASE": url,
            "STRIPE_TIMEOUT": "10", "STRIPE_MAX_NETWORK_RETRIES": "0", "STRIPE_PEER": "localstripe"}


def test_stripe_peer_stopped_between_creating_and_confirming_the_payment(client, placed_order, stripe_peer,
                                                                         settings, monkeypatch):
    # given the shop talking to its own localstripe process, which stops after the intent is made
    peer = LocalStripe().start()
    settings.STRIPE_API_BASE = peer.url
    real_confirm = StripeGateway.confirm_intent

    def stopped_then_confirm(self, *args, **kwargs):
        peer.stop()
        return real_confirm(self, *args, **kwargs)

    monkeypatch.setattr(StripeGateway, "confirm_intent", stopped_then_confirm)
    try:
        # when the fan pays
        response = _pay(client, placed_order, payment_method="pm_card_visa")
    finally:
        peer.stop()

    # then a clear message, only the attempt is on record (for reconcile_payments), and the order stays payable
    assert response.status_code == 503
    assert "We could not confirm your payment" in response.json()["message"]
    assert "never be charged twice" in response.json()["message"]
    _nothing_captured(placed_order)
    assert list(PaymentAttempt.objects.values_list("number", "status")) == [(1, PaymentAttempt.ERROR)]

    # when Stripe is back and the fan tries again, then it is paid once
    monkeypatch.setattr(StripeGateway, "confirm_intent", real_confirm)
    settings.STRIPE_API_BASE = stripe_peer.url
    assert _pay(client, placed_order, payment_method="pm_card_visa").json()["status"] == "succeeded"
    assert Order.objects.get(pk=placed_order.pk).status == "Paid"
    assert LedgerTransaction.objects.filter(kind="sale").count() == 1
    assert list(ledger_violations()) == []


class _Hanging:
    """A local socket that accepts connections and never answers."""

    def __enter__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.listener.settimeout(0.2)
        self.accepted, self.stopping = [], threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        return self

    def _accept(self):
        while not self.stopping.is_set():
            try:
                self.accepted.append(self.listener.accept()[0])
            except OSError:
                continue

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(timeout=2)
        for conn in self.accepted:
            conn.close()
        self.listener.close()


def test_stripe_hanging_at_confirmation_gives_a_clear_message_and_the_order_stays_payable(
        client, placed_order, stripe_peer, monkeypatch):
    # given a Stripe that made the intent and then hangs when asked to confirm it
    real_confirm = StripeGateway.confirm_intent
    with _Hanging() as hanging:
        def hanging_confirm(self, intent_id, **kwargs):
            stuck = StripeGateway(secret_key=TEST_SECRET_KEY, webhook_secret=WEBHOOK_SECRET, api_base=hanging.url,
                                  timeout=1, max_network_retries=0)
            return real_confirm(stuck, intent_id, **kwargs)

        monkeypatch.setattr(StripeGateway, "confirm_intent", hanging_confirm)
        before = Order.objects.get(pk=placed_order.pk).status
        # when the fan pays
        response = _pay(client, placed_order, payment_method="pm_card_visa")
        assert hanging.accepted, "the confirmation never reached the hanging server"

    # then the call timed out into a clear message; nothing but the attempt is written
    assert (before, response.status_code) == ("Pending payment", 503)
    assert "We could not confirm your payment" in response.json()["message"]
    _nothing_captured(placed_order)
    assert list(PaymentAttempt.objects.values_list("status", flat=True)) == [PaymentAttempt.ERROR]

    # and the fan can pay again once Stripe answers
    monkeypatch.setattr(StripeGateway, "confirm_intent", real_confirm)
    assert _pay(client, placed_order, payment_method="pm_card_visa").json()["status"] == "succeeded"
    assert LedgerTransaction.objects.filter(kind="sale").count() == 1
    assert list(ledger_violations()) == []


@support.postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_database_error_while_posting_the_donation_rolls_the_capture_back_and_the_retry_posts_once(stripe_peer,
                                                                                                    gateway):
    # given an order paid at Stripe only, and the ledger's transaction table refusing inserts (a trigger)
    support.load_shop()
    order = support.pending_order()
    intent = paid_at_stripe_only(gateway, order)
    body = json.dumps(intent_event(stripe_peer.url, "payment_intent.succeeded", intent.id)).encode()
    table = LedgerTransaction._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("CREATE FUNCTION p6_fault() RETURNS trigger AS $$ BEGIN "
                       "RAISE EXCEPTION 'injected fault: ledger unavailable'; END $$ LANGUAGE plpgsql")
        cursor.execute(f"CREATE TRIGGER p6_fault BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION p6_fault()")
    before = shop_rows()

    def deliver(url):
        headers = {"Content-Type": "application/json",
                   "Stripe-Signature": sign_webhook_payload(payload=body, secret=WEBHOOK_SECRET)}
        status, answer = post(url + WEBHOOK_URL, body, headers=headers)
        return status, json.loads(answer)

    try:
        with Gunicorn(env=_stripe_env(stripe_peer.url), workers=4) as server:
            # when Stripe delivers the event to gunicorn
            failed = deliver(server.url)
            # then the webhook answers 5xx and nothing of the capture is kept
            assert failed == (500, {"outcome": "failed", "detail": "processing failed; Stripe will retry"})
            stored = StripeEvent.objects.get()
            assert stored.outcome == StripeEvent.FAILED
            assert "injected fault: ledger unavailable" in stored.detail
            after = shop_rows()
            after.pop("stripe_events"), before.pop("stripe_events")
            assert after == before
            _nothing_captured(order)

            # when the fault is gone and Stripe delivers it again
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TRIGGER p6_fault ON {table}")
            retried = deliver(server.url)
            again = deliver(server.url)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER IF EXISTS p6_fault ON {table}")
            cursor.execute("DROP FUNCTION IF EXISTS p6_fault()")

    # then it is captured and posted once
    assert retried == (200, {"outcome": "processed", "detail": f"order {order.number}: captured"})
    assert again == (200, {"outcome": "duplicate", "detail": "processed"})
    assert Order.objects.get(pk=order.pk).status == "Paid"
    assert Source.objects.count() == 1
    assert list(LedgerTransaction.objects.values_list("idempotency_key", flat=True)) == [f"sale:{order.number}"]
    assert list(ledger_violations()) == []


@support.postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_process_killed_between_stripes_success_and_our_write_is_recovered_once_by_reconcile(stripe_peer):
    # given a process paying an order through the shop's own pay_order, killed (SIGKILL) right after
    # Stripe confirmed the payment and before the capture was written
    support.load_shop()
    order = support.pending_order()
    env = {"DJANGO_SETTINGS_MODULE": "shop.settings_test", "DATABASE_URL": database_url(),
           "PATH": "/usr/bin:/bin", **_stripe_env(stripe_peer.url)}
    process = subprocess.Popen([sys.executable, str(SCRIPT), str(order.number)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("stripe-confirmed "), (line, process.stderr.read() if process.poll() else "")
        intent_id = line.split()[1]
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    _nothing_captured(order)
    # the dead request's payment lease (PAYING) is left behind: it expires after SHOP_PAY_LEASE_SECONDS, and
    # reconcile_payments does not wait for it
    assert list(PaymentAttempt.objects.values_list("intent_id", "status")) == [(intent_id, PaymentAttempt.PAYING)]

    # when reconcile_payments runs, twice
    first, second = StringIO(), StringIO()
    call_command("reconcile_payments", stdout=first, stderr=StringIO())
    call_command("reconcile_payments", stdout=second, stderr=StringIO())

    # then the payment is recovered exactly once
    assert first.getvalue().splitlines() == [f"order {order.number}: captured",
                                             "reconciled: captured 1, cancelled 0, repaired 0, unchanged 0, errors 0"]
    assert second.getvalue().splitlines() == ["reconciled: captured 0, cancelled 0, repaired 0, unchanged 1, errors 0"]
    assert Order.objects.get(pk=order.pk).status == "Paid"
    assert list(Source.objects.values_list("reference", flat=True)) == [intent_id]
    assert list(LedgerTransaction.objects.values_list("idempotency_key", flat=True)) == [f"sale:{order.number}"]
    assert PaymentAttempt.objects.get().status == PaymentAttempt.SUCCEEDED
    assert list(ledger_violations()) == []
