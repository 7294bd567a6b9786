"""Webhooks: signed payment_intent.succeeded events per second through gunicorn (4 workers).

A localstripe process (scripts/localstripe_server.py) holds N succeeded PaymentIntents, each made by our
gateway for a pending order of ours (a PaymentAttempt row, as the payment page records it). Each event is
signed like Stripe does (shop/payments/signing.py) and POSTed by a bounded threaded client; each first
delivery re-retrieves the intent (and its charge) from localstripe, then marks the order paid and posts
the donation: that is the "first delivery" figure, the target. Then every event is delivered again:
the "duplicate delivery" figure (stored event found, nothing re-processed, no Stripe call).
Run with our settings (bench/run passes the environment).
"""

import http.client
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from common import ROOT, record, start_gunicorn, stop  # noqa: E402
from orders import ADDRESS, items  # noqa: E402
from shop.checkout.placement import build_basket, place_pending_order  # noqa: E402
from shop.payments.gateway import get_gateway  # noqa: E402
from shop.payments.models import PaymentAttempt  # noqa: E402
from shop.payments.signing import sign_webhook_payload  # noqa: E402

N = int(os.environ.get("BENCH_WEBHOOK_EVENTS", "240"))
THREADS = 8
TIME_CAP = 90


def start_localstripe(port):
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "localstripe_server.py"), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(100):
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/")
            return proc
        except OSError:
            time.sleep(0.1)
    stop(proc)
    raise RuntimeError("localstripe did not start")


def prepare(gateway):
    events = []
    its = items(2)
    for _ in range(N):
        order = place_pending_order(basket=build_basket(items=its), email="hook@example.org", address=ADDRESS)
        intent = gateway.create_intent(amount=order.total_incl_tax, currency=order.currency,
                                       order_number=str(order.number), attempt=1)
        PaymentAttempt.objects.create(order=order, number=1, intent_id=intent.id, amount=intent.amount,
                                      currency=intent.currency)
        intent = gateway.confirm_intent(intent.id, payment_method="pm_card_visa")
        assert intent.status == "succeeded", intent.status
        body = json.dumps({
            "id": f"evt_bench_{uuid.uuid4().hex}", "object": "event", "type": "payment_intent.succeeded",
            "created": int(time.time()), "livemode": False, "api_version": "2024-06-20",
            "data": {"object": {"id": intent.id, "object": "payment_intent", "status": "succeeded"}},
        }).encode()
        events.append(body)
    return events


def deliver(port, bodies):
    """POST every body once with THREADS threads; return (events/s, outcomes)."""
    work = queue.Queue()
    for body in bodies:
        work.put(body)
    outcomes, lock = {}, threading.Lock()
    deadline = time.time() + TIME_CAP

    def worker():
        while time.time() < deadline:
            try:
                body = work.get_nowait()
            except queue.Empty:
                return
            header = sign_webhook_payload(payload=body, secret=settings.STRIPE_WEBHOOK_SECRET)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("POST", "/payments/stripe/webhook/", body=body,
                         headers={"Content-Type": "application/json", "Stripe-Signature": header})
            response = conn.getresponse()
            answer = response.read()
            conn.close()
            try:
                outcome = f"{response.status} {json.loads(answer)['outcome']}"
            except ValueError:
                outcome = f"{response.status} ?"
            with lock:
                outcomes[outcome] = outcomes.get(outcome, 0) + 1

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - t
    return sum(outcomes.values()) / elapsed, outcomes


def main():
    stripe_port, hook_port = int(os.environ["BENCH_STRIPE_PORT"]), int(os.environ["BENCH_HOOK_PORT"])
    stripe_proc = gun = None
    try:
        stripe_proc = start_localstripe(stripe_port)
        t = time.perf_counter()
        bodies = prepare(get_gateway())
        print(f"  {N} pending orders with succeeded intents in localstripe ({time.perf_counter() - t:.0f} s)",
              flush=True)
        gun = start_gunicorn(wsgi="shop.wsgi", port=hook_port, env=dict(os.environ),
                             log=Path(os.environ.get("BENCH_VAR", ROOT / "var" / "bench")) / "gunicorn-hooks.log")
        rate, outcomes = deliver(hook_port, bodies)
        ok = outcomes.get("200 processed", 0) == N
        record("webhooks", f"first deliveries ({N} events: re-retrieve intent+charge, capture, post)",
               f"{rate:.0f}", "events/s", target=">= 300 events/s", ok=ok and rate >= 300,
               note=json.dumps(outcomes))
        rate2, outcomes2 = deliver(hook_port, bodies * 3)
        record("webhooks", f"duplicate deliveries ({3 * N} events, already processed)", f"{rate2:.0f}", "events/s",
               note=json.dumps(outcomes2))
    finally:
        stop(gun)
        stop(stripe_proc)


if __name__ == "__main__":
    main()
