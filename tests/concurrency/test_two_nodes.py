"""Two machines (issue 14, DESIGN "Background work, and more than one machine"): two gunicorn nodes and one
Celery worker share PostgreSQL and the Redis broker, and nothing else.

A guest fills the basket on node 1, checks out on node 2 and pays on node 1 (one cookie jar: the session, the
basket and the checkout live in the database); Stripe's `payment_intent.succeeded` is delivered to node 2 and
again, as Stripe's retry would, to node 1. The nodes answer at once and send no email themselves; the worker
processes the event and sends the owed emails. Emails are written by Django's file backend, one directory
for the nodes and one for the worker, so they are counted across processes (tests/concurrency/mail_settings.py:
the test settings would keep them in each process's memory).
"""

import email
import email.header
import http.cookiejar
import json
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from oscar.core.loading import get_model

from fundraising.models import LedgerTransaction
from fundraising.verification import ledger_violations
from shop.jobs.models import OutgoingEmail
from shop.payments.models import PaymentAttempt, StripeEvent
from shop.payments.signing import sign_webhook_payload
from tests.background import CeleryWorker, wait_for
from tests.concurrency import support
from tests.live_server import Gunicorn, post
from tests.payments.conftest import WEBHOOK_SECRET
from tests.payments.events import WEBHOOK_URL, intent_event
from tests.stripe_peer import TEST_PUBLISHABLE_KEY, TEST_SECRET_KEY, count_objects

Order = get_model("order", "Order")
StockRecord = get_model("partner", "StockRecord")
Source = get_model("payment", "Source")
Basket = get_model("basket", "Basket")

FAN = "two-nodes@example.org"
TOTAL = Decimal("30.00")  # one black M T-shirt, free shipping, no tax
# shop.settings_test with EMAIL_BACKEND and EMAIL_FILE_PATH from the environment (the test settings keep mail in
# the sending process's memory)
MAIL_SETTINGS = "tests.concurrency.mail_settings"
MESSAGE_SEPARATOR = b"\n" + b"-" * 79 + b"\n"  # Django's file backend ends each message with this line


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the fan looks at each answer; a 3xx comes back as it is


class Fan:
    """A browser's cookie jar and its requests (no proxy from the environment, redirects not followed).
    Requests to either node carry the same cookies: they are kept per host (127.0.0.1), not per port."""

    def __init__(self):
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects(),
                                                  urllib.request.HTTPCookieProcessor(self.cookies))

    def cookie(self, name):
        return next((c.value for c in self.cookies if c.name == name), None)

    def get(self, node, path):
        return self._open(urllib.request.Request(node.url + path))

    def post(self, node, path, data, *, accept="text/html"):
        """A form POST with Django's CSRF token (the csrftoken cookie's secret, as the form field and header)."""
        token = self.cookie("csrftoken")
        assert token, "no csrftoken cookie yet: GET a page with a form first"
        body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": token}).encode()
        return self._open(urllib.request.Request(node.url + path, data=body, method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-CSRFToken": token, "Accept": accept,
            "Referer": node.url + path}))

    def _open(self, req):
        try:
            with self.opener.open(req, timeout=60) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as exc:  # 3xx (not followed) and 4xx/5xx
            return exc.code, exc.headers, exc.read()


def _deliver(node, evt):
    body = json.dumps(evt).encode()
    status, answer = post(node.url + WEBHOOK_URL, body, headers={
        "Content-Type": "application/json", "Stripe-Signature": sign_webhook_payload(payload=body,
                                                                                   secret=WEBHOOK_SECRET)})
    return status, json.loads(answer)


def sent_subjects(directory):
    """The subject of every message Django's file backend wrote under `directory`, by recipient."""
    subjects = []
    for path in sorted(Path(directory).glob("*.log")):
        for raw in path.read_bytes().split(MESSAGE_SEPARATOR):
            if raw.strip():
                message = email.message_from_bytes(raw)
                subject = str(email.header.make_header(email.header.decode_header(message["Subject"])))
                subjects.append((message["To"], subject))
    return subjects


def _background(broker):
    """What is left to do: messages waiting in the queue, taken and not acknowledged yet (tasks are acked
    late), events and emails not done."""
    return {"queued": broker.queued(), "unacked": broker.redis.hlen("unacked"),
            "events": sorted(StripeEvent.objects.values_list("outcome", "attempts", "detail")),
            "emails": sorted(OutgoingEmail.objects.values_list("key", "status", "attempts", "error"))}


def _drained(state):
    return (state["queued"] == 0 and state["unacked"] == 0 and state["emails"]
            and all(outcome == StripeEvent.PROCESSED for outcome, _, _ in state["events"])
            and all(status == OutgoingEmail.SENT for _, status, _, _ in state["emails"]))


@support.postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_guest_buys_across_two_nodes_and_a_worker_books_one_sale_and_sends_each_email_once(
        stripe_peer, broker, settings, tmp_path):
    # given the shop on two gunicorn nodes and one Celery worker sharing the database and the broker only
    support.load_shop()
    record = StockRecord.objects.select_related("product__parent").get(partner_sku=support.TEE)
    stripe_env = {
        "STRIPE_SECRET_KEY": TEST_SECRET_KEY, "STRIPE_PUBLISHABLE_KEY": TEST_PUBLISHABLE_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, "STRIPE_API_BASE": stripe_peer.url, "STRIPE_TIMEOUT": "30",
        "STRIPE_MAX_NETWORK_RETRIES": "0", "STRIPE_PEER": "localstripe",
        "STRIPE_FEE_PERCENT": str(settings.STRIPE_FEE_PERCENT), "STRIPE_FEE_FIXED": str(settings.STRIPE_FEE_FIXED),
        "CELERY_BROKER_URL": broker.url, "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "DJANGO_SETTINGS_MODULE": MAIL_SETTINGS,
    }
    nodes_mail, worker_mail = tmp_path / "nodes-mail", tmp_path / "worker-mail"
    node_env = {**stripe_env, "EMAIL_FILE_PATH": str(nodes_mail)}
    fan = Fan()
    with Gunicorn(env=node_env, workers=2) as node1, Gunicorn(env=node_env, workers=2) as node2, \
            CeleryWorker(broker, env={**stripe_env, "EMAIL_FILE_PATH": str(worker_mail)}) as worker:
        # when the guest puts a T-shirt in the basket on node 1
        status, _, _ = fan.get(node1, record.product.parent.get_absolute_url())
        assert status == 200
        status, headers, _ = fan.post(node1, f"/basket/add/{record.product.parent_id}/",
                                      {"quantity": 1, "child_id": record.product_id})
        assert status == 302, status
        # and checks out on node 2, with the same cookies
        status, headers, body = fan.post(node2, "/checkout/", {"username": FAN, "options": "anonymous"})
        assert (status, headers["Location"]) == (302, "/checkout/shipping-address/"), body[:2000]
        status, _, body = fan.post(node2, "/checkout/shipping-address/", support.ADDRESS)
        assert status == 302, body[:2000]
        status, _, _ = fan.get(node2, "/checkout/shipping-method/")  # one method: Oscar picks it
        assert status == 302
        status, headers, body = fan.post(node2, "/checkout/preview/", {"action": "place_order"})
        assert status == 302, body[:2000]
        order = Order.objects.get()
        assert headers["Location"] == f"/checkout/pay/{order.number}/"
        # and pays on node 1 with a good card (the payment page's script posts the PaymentMethod)
        status, _, body = fan.post(node1, f"/checkout/pay/{order.number}/", {"payment_method": "pm_card_visa"},
                                   accept="application/json")
        assert (status, json.loads(body)["status"]) == (200, "succeeded"), body[:2000]
        # and Stripe's payment_intent.succeeded reaches node 2, then again (a retry) node 1
        [attempt] = PaymentAttempt.objects.filter(order=order)
        succeeded = intent_event(stripe_peer.url, "payment_intent.succeeded", attempt.intent_id)
        first = _deliver(node2, succeeded)
        second = _deliver(node1, succeeded)

        # then both nodes answered at once: the first stored and queued it, the second found it stored
        assert first == (200, {"outcome": "received", "detail": "queued"})
        assert second[0] == 200 and second[1]["outcome"] == "duplicate"
        # and once the worker has drained the queue
        try:
            wait_for(lambda: _drained(_background(broker)), what="the worker draining the queue")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {_background(broker)}\n{worker.output()}") from None

    # the order is paid once: one intent at Stripe, one source, one sale in the ledger, a clean ledger
    order.refresh_from_db()
    assert Order.objects.count() == 1
    assert (order.status, order.guest_email, order.total_incl_tax) == ("Paid", FAN, TOTAL)
    assert list(order.lines.values_list("partner_sku", "quantity")) == [(support.TEE, 1)]
    assert Basket.objects.get(pk=order.basket_id).status == "Submitted"
    assert count_objects(stripe_peer.url, "payment_intents") == 1
    assert list(Source.objects.values_list("order_id", "reference", "amount_debited")) == [
        (order.pk, attempt.intent_id, TOTAL)]
    assert list(LedgerTransaction.objects.filter(kind="sale").values_list("order_id", flat=True)) == [order.pk]
    assert list(ledger_violations()) == []
    # and the event was stored once, delivered twice, processed once by the worker
    assert list(StripeEvent.objects.values_list("event_id", "outcome", "deliveries", "attempts")) == [
        (succeeded["id"], StripeEvent.PROCESSED, 2, 1)]
    # and the order-placed email and the confirmation were each owed once and sent once, by the worker only
    assert Counter(OutgoingEmail.objects.values_list("key", "status", "attempts")) == Counter({
        (f"placed:{order.number}", OutgoingEmail.SENT, 1): 1, (f"paid:{order.number}", OutgoingEmail.SENT, 1): 1})
    assert Counter(sent_subjects(worker_mail)) == Counter({
        (FAN, f"Order {order.number}: complete your payment"): 1, (FAN, f"Confirmation of order {order.number}"): 1})
    assert sent_subjects(nodes_mail) == []
