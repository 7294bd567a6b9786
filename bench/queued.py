"""Background work (issue 14): webhooks acknowledged before processing, a backlog drained by Celery workers,
and the fan's pay request without the email in it.

(a) Acknowledgement. N signed `payment_intent.succeeded` events (intents really paid at localstripe, each for a
    pending order of ours with its PaymentAttempt, as the payment page records it; the payload is the intent
    as localstripe returns it, a few KiB like Stripe's) are POSTed once each by CLIENTS concurrent clients to
    gunicorn (4 workers) with CELERY_BROKER_URL set and no worker running: verify, store once, enqueue on
    commit, answer 200. Figures: events/s, and p50/p99 of the time one delivery waits for its answer.
(b) Drain. WORKER_PROCESSES `celery -A shop worker` processes (concurrency WORKER_CONCURRENCY each) are started
    on that backlog: each event re-retrieves its intent and charge from localstripe, captures, posts the
    donation and owes the confirmation email, which the workers then send. Figures: the time from the workers
    being ready to an empty queue with every event processed and every email sent, events/s, and nothing lost
    (every event stored once and processed once, one sale and one email per order).
(c) The pay request. The fan's POST to /checkout/pay/<number>/ (pm_card_visa at localstripe: intent created,
    confirmed, captured, donation posted, the confirmation owed) with the email sent inside the request (no
    broker, as before issue 14) and enqueued instead (broker), with a fast email backend (locmem) and with an
    SMTP server that takes SMTP_DELAY s to greet (a socketserver in this process). Figure: p50 of
    PAY_SAMPLES requests, one at a time, each for its own order and session.

Run with our settings (bench/run passes the environment); the broker is BENCH_BROKER (a Redis database of the
bench's own, emptied before and after).
"""

import collections
import http.client
import json
import multiprocessing
import os
import queue
import resource
import secrets
import signal
import socketserver
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from oscar.core.loading import get_model  # noqa: E402

from common import ROOT, record, start_gunicorn, stop  # noqa: E402
from fundraising.models import LedgerTransaction  # noqa: E402
from orders import ADDRESS, items  # noqa: E402
from shop.checkout.placement import build_basket, place_pending_order  # noqa: E402
from shop.checkout.views import PAYABLE_ORDERS_SESSION_KEY  # noqa: E402
from shop.jobs.models import OutgoingEmail  # noqa: E402
from shop.payments.gateway import get_gateway  # noqa: E402
from shop.payments.models import PaymentAttempt, StripeEvent  # noqa: E402
from shop.payments.signing import sign_webhook_payload  # noqa: E402
from webhooks import start_localstripe  # noqa: E402

Order = get_model("order", "Order")
StockRecord = get_model("partner", "StockRecord")

N = int(os.environ.get("BENCH_QUEUED_EVENTS", "3000"))
CLIENTS = int(os.environ.get("BENCH_QUEUED_CLIENTS", "32"))
WORKER_PROCESSES = int(os.environ.get("BENCH_QUEUED_WORKERS", "2"))
WORKER_CONCURRENCY = int(os.environ.get("BENCH_QUEUED_CONCURRENCY", "2"))
PAY_SAMPLES = int(os.environ.get("BENCH_PAY_SAMPLES", "20"))
PAY_WARMUP = 8  # the first enqueue in a gunicorn worker connects to Redis (~0.1 s): not in the figure
PREPARE_PROCESSES = 2  # the machine's cores, roughly: placement is CPU-bound
SMTP_DELAY = 1.0
ACK_TARGET = 300
DRAIN_CAP = 1200  # seconds: a bound on the wait, never a figure
BROKER = os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/14")
VAR = Path(os.environ.get("BENCH_VAR", ROOT / "var" / "bench"))
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def tree_cpu(*pids):
    """CPU seconds (user + system) used so far by the processes `pids` and their descendants (Linux /proc)."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))  # ppid, utime + stime
    wanted, total = set(pids), 0
    while True:
        more = {pid for pid, (ppid, _) in stats.items() if ppid in wanted} - wanted
        if not more:
            break
        wanted |= more
    for pid in wanted:
        total += stats.get(pid, (0, 0))[1]
    return total / os.sysconf("SC_CLK_TCK")


def client_cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(samples, p):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# --- preparing orders paid at Stripe and their events ------------------------------------------------------


def paid_order_event(gateway, its, run):
    """A pending order, its intent paid at localstripe (the attempt recorded) and the signed-later event body."""
    order = place_pending_order(basket=build_basket(items=its), email="queued@example.org", address=ADDRESS)
    intent = gateway.create_intent(amount=order.total_incl_tax, currency=order.currency,
                                   order_number=str(order.number), attempt=1)
    PaymentAttempt.objects.create(order=order, number=1, intent_id=intent.id, amount=intent.amount,
                                  currency=intent.currency)
    assert gateway.confirm_intent(intent.id, payment_method="pm_card_visa").status == "succeeded"
    req = urllib.request.Request(f"{settings.STRIPE_API_BASE}/v1/payment_intents/{intent.id}",
                                 headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"})
    with _direct.open(req, timeout=30) as resp:
        obj = json.loads(resp.read())
    return order.pk, json.dumps({
        "id": f"evt_q{run}_{uuid.uuid4().hex[:16]}", "object": "event", "type": "payment_intent.succeeded",
        "api_version": "2026-10-28.endive", "created": int(time.time()), "livemode": False, "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None}, "data": {"object": obj},
    }).encode()


def _prepare_chunk(count, run, offset):
    """In a forked process (its own database connection): `count` pairs for orders of two stock records of
    its own (placement locks them, so processes sharing records would wait for each other)."""
    from django.db import connections

    connections.close_all()  # the parent's connection must not be shared across the fork
    records = StockRecord.objects.select_related("product").order_by("partner_sku")[2 * offset:2 * offset + 2]
    its = [(r.product, 1) for r in records]
    gateway = get_gateway()
    try:
        return [paid_order_event(gateway, its, run) for _ in range(count)]
    finally:
        connections.close_all()


def prepare(count, run):
    """`count` (order pk, event body) pairs, made by PREPARE_PROCESSES forked processes."""
    from django.db import connections

    connections.close_all()
    chunks = [count // PREPARE_PROCESSES + (i < count % PREPARE_PROCESSES) for i in range(PREPARE_PROCESSES)]
    with ProcessPoolExecutor(PREPARE_PROCESSES, mp_context=multiprocessing.get_context("fork")) as pool:
        made = [pair for part in pool.map(_prepare_chunk, chunks, [run] * len(chunks), range(len(chunks)))
                for pair in part]
    assert len(made) == count, f"prepared {len(made)} of {count}"
    return made


# --- (a) acknowledgement -----------------------------------------------------------------------------------


def deliver(port, bodies):
    """POST each body once (signed when sent) by CLIENTS threads: (seconds, answers Counter, latencies ms)."""
    work = queue.SimpleQueue()
    for body in bodies:
        work.put(body)
    answers, latencies, lock = collections.Counter(), [], threading.Lock()

    def client():
        while True:
            try:
                body = work.get_nowait()
            except queue.Empty:
                return
            header = sign_webhook_payload(payload=body, secret=settings.STRIPE_WEBHOOK_SECRET)
            t = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request("POST", "/payments/stripe/webhook/", body=body,
                             headers={"Content-Type": "application/json", "Stripe-Signature": header})
                response = conn.getresponse()
                raw = response.read()
                conn.close()
                answer = json.loads(raw)
                outcome = f"{response.status} {answer.get('outcome')} {answer.get('detail')}"
            except (OSError, ValueError) as exc:
                outcome = f"error {type(exc).__name__}"
            elapsed = (time.perf_counter() - t) * 1000
            with lock:
                answers[outcome] += 1
                latencies.append(elapsed)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - t, answers, latencies


# --- (b) drain ---------------------------------------------------------------------------------------------


class Workers:
    """`celery -A shop worker` processes in their own sessions, stopped by their pids (TERM, then KILL)."""

    def __init__(self, env, *, processes, concurrency, tag):
        self.env, self.processes, self.concurrency, self.tag = env, processes, concurrency, tag
        self.procs, self.logs = [], []

    def start(self):
        for i in range(self.processes):
            log = VAR / f"celery-{self.tag}-{i}.log"
            log.write_text("")
            self.logs.append(log)
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "shop", "worker", "--loglevel=INFO",
                 f"--concurrency={self.concurrency}", "--without-gossip", "--without-mingle", "--without-heartbeat",
                 f"--hostname=bench-{self.tag}-{i}-{os.getpid()}@127.0.0.1"],
                cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=log.open("w"), stderr=subprocess.STDOUT,
                start_new_session=True))
        deadline = time.monotonic() + 120
        while not all("ready." in log.read_text(errors="replace") for log in self.logs):
            if any(p.poll() is not None for p in self.procs) or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"celery workers did not start (logs: {', '.join(map(str, self.logs))})")
            time.sleep(0.05)
        return self

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)  # warm shutdown: the task in hand is finished
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        self.procs = []


def backlog(broker, event_ids, order_pks):
    """(events not done, emails owed and not sent, emails owed, messages waiting or unacknowledged)."""
    events = StripeEvent.objects.filter(event_id__in=event_ids)
    emails = OutgoingEmail.objects.filter(kind=OutgoingEmail.PAID, object_pk__in=order_pks)
    return (events.exclude(outcome__in=(StripeEvent.PROCESSED, StripeEvent.IGNORED)).count(),
            emails.exclude(status=OutgoingEmail.SENT).count(), emails.count(),
            broker.llen("celery") + broker.hlen("unacked"))


def wait_drained(broker, event_ids, order_pks):
    deadline = time.monotonic() + DRAIN_CAP
    while True:
        events_left, emails_left, emails, messages = backlog(broker, event_ids, order_pks)
        if events_left == 0 and emails_left == 0 and emails == len(order_pks) and messages == 0:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)


def webhooks_part(env, broker, stripe_pid, run):
    t = time.perf_counter()
    pairs = prepare(N, run)
    order_pks = [pk for pk, _ in pairs]
    bodies = [body for _, body in pairs]
    event_ids = [json.loads(body)["id"] for body in bodies]
    print(f"  {N} pending orders with succeeded intents at localstripe ({time.perf_counter() - t:.0f} s)", flush=True)

    # (a) no worker: the answers only store and enqueue
    gun = start_gunicorn(wsgi="shop.wsgi", port=int(os.environ["BENCH_HOOK_PORT"]), env=env,
                         log=VAR / "gunicorn-queued.log")
    try:
        server_before, client_before = tree_cpu(gun.pid), client_cpu()
        seconds, answers, latencies = deliver(int(os.environ["BENCH_HOOK_PORT"]), bodies)
        server_cpu, client_used = tree_cpu(gun.pid) - server_before, client_cpu() - client_before
    finally:
        stop(gun)
    rate = N / seconds
    queued = broker.llen("celery")
    stored = collections.Counter(StripeEvent.objects.filter(event_id__in=event_ids).values_list("outcome", flat=True))
    acked = answers.get("200 received queued", 0)
    all_acked = acked == N and stored == {StripeEvent.RECEIVED: N} and queued == N
    record("queued", f"webhook first deliveries acknowledged, broker, no worker ({N} events, {CLIENTS} clients)",
           f"{rate:.0f}", "events/s", target=f">= {ACK_TARGET} events/s", ok=all_acked and rate >= ACK_TARGET,
           note=f"answers {dict(answers)}; stored {dict(stored)}; {queued} messages queued; gunicorn used "
                f"{server_cpu:.1f} s of CPU, the {CLIENTS} clients (one process) {client_used:.1f} s, "
                f"in {seconds:.1f} s")
    record("queued", "webhook acknowledgement, gunicorn CPU per event", f"{server_cpu / N * 1000:.1f}", "ms",
           note=f"{N / server_cpu:.0f} events/s per core of CPU; verify the signature, store the event, enqueue")
    record("queued", "webhook acknowledgement time p50 / p99",
           f"{percentile(latencies, 50):.0f} / {percentile(latencies, 99):.0f}", "ms",
           note=f"max {max(latencies):.0f} ms; gunicorn 4 workers; the client's wait, queueing included")

    # (b) the workers drain the backlog
    workers = Workers(env, processes=WORKER_PROCESSES, concurrency=WORKER_CONCURRENCY, tag="drain")
    launched = time.perf_counter()
    workers.start()
    ready = time.perf_counter()
    try:
        workers_before, stripe_before = tree_cpu(*[p.pid for p in workers.procs]), tree_cpu(stripe_pid)
        drained = wait_drained(broker, event_ids, order_pks)
        done = time.perf_counter()
        workers_cpu = tree_cpu(*[p.pid for p in workers.procs]) - workers_before
        stripe_cpu = tree_cpu(stripe_pid) - stripe_before
    finally:
        workers.stop()
    events = StripeEvent.objects.filter(event_id__in=event_ids)
    outcomes = collections.Counter(events.values_list("outcome", flat=True))
    once = events.filter(attempts=1, deliveries=1).count()
    sales = LedgerTransaction.objects.filter(kind="sale", order_id__in=order_pks).count()
    paid = Order.objects.filter(pk__in=order_pks, status="Paid").count()
    emails = collections.Counter(OutgoingEmail.objects.filter(kind=OutgoingEmail.PAID, object_pk__in=order_pks)
                                 .values_list("status", flat=True))
    span = events.order_by("processed_at").values_list("processed_at", flat=True)
    first, last = span.first(), span.last()
    drain = done - ready
    processes = f"{WORKER_PROCESSES} worker processes x concurrency {WORKER_CONCURRENCY}"
    record("queued", f"backlog drained by {processes} (events processed, emails sent)",
           f"{drain:.1f}" if drained else f"> {DRAIN_CAP}", "s",
           note=f"from the workers ready ({ready - launched:.1f} s to start) to an empty queue; every event "
                f"re-retrieves intent and charge from localstripe, captures, posts and owes the email")
    busy = (last - first).total_seconds() if first and last else 0
    record("queued", "webhook events processed by the workers", f"{N / drain:.0f}", "events/s",
           note=f"{N / busy:.0f} events/s between the first and the last processed_at" if busy else "")
    record("queued", "worker CPU per event (processing and its email)", f"{workers_cpu / N * 1000:.0f}", "ms",
           note=f"{N / workers_cpu:.0f} events/s per core of CPU; localstripe used {stripe_cpu / N * 1000:.0f} ms "
                f"per event more")
    lost = N - outcomes.get(StripeEvent.PROCESSED, 0)
    record("queued", "events lost or processed twice (outcomes, attempts, sales, emails vs events sent)",
           f"{lost + (N - once)}", "events", target="0",
           ok=drained and outcomes == {StripeEvent.PROCESSED: N} and once == N and sales == N and paid == N
           and emails == {OutgoingEmail.SENT: N},
           note=f"sent {N}; outcomes {dict(outcomes)}; processed in one attempt {once}; sales {sales}; "
                f"orders paid {paid}; paid emails {dict(emails)}")


# --- (c) the pay request -----------------------------------------------------------------------------------


class SlowSMTP(socketserver.ThreadingTCPServer):
    """Just enough SMTP for Django's backend, greeting each connection after `delay` seconds; counts messages."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port, delay):
        self.delay, self.messages, self.lock = delay, 0, threading.Lock()
        super().__init__(("127.0.0.1", port), _SMTPHandler)


class _SMTPHandler(socketserver.StreamRequestHandler):
    def handle(self):
        time.sleep(self.server.delay)
        self.reply("220 bench-smtp ESMTP")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb == b"EHLO":
                self.reply("250-bench-smtp", "250 8BITMIME")
            elif verb == b"DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                while self.rfile.readline() not in (b".\r\n", b""):
                    pass
                with self.server.lock:
                    self.server.messages += 1
                self.reply("250 queued")
            elif verb == b"QUIT":
                self.reply("221 bye")
                return
            else:  # HELO, MAIL, RCPT, RSET, NOOP
                self.reply("250 OK")

    def reply(self, *lines):
        self.wfile.write("".join(f"{line}\r\n" for line in lines).encode())


def payable_orders(count):
    """`count` pending orders, each with a guest session allowed to pay it: (order number, session key)."""
    its = items(1)
    made = []
    for _ in range(count):
        order = place_pending_order(basket=build_basket(items=its), email="payer@example.org", address=ADDRESS)
        session = SessionStore()
        session[PAYABLE_ORDERS_SESSION_KEY] = [str(order.number)]
        session.create()
        made.append((order.number, session.session_key))
    return made


def pay(port, number, session_key):
    """The payment page's POST (its script asks for JSON): (ms, status, answer)."""
    token = secrets.token_hex(16)  # a CSRF secret of 32 characters, as the csrftoken cookie holds
    body = urllib.parse.urlencode({"payment_method": "pm_card_visa", "csrfmiddlewaretoken": token}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
               "X-CSRFToken": token, "Cookie": f"{settings.SESSION_COOKIE_NAME}={session_key}; csrftoken={token}"}
    t = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", f"/checkout/pay/{number}/", body=body, headers=headers)
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    elapsed = (time.perf_counter() - t) * 1000
    try:
        status = json.loads(raw).get("status")
    except ValueError:
        status = raw[:200]
    return elapsed, response.status, status


def pay_part(env, broker, broker_url):
    port, smtp_port = int(os.environ["BENCH_HOOK_PORT"]), int(os.environ["BENCH_SMTP_PORT"])
    smtp = SlowSMTP(smtp_port, SMTP_DELAY)
    threading.Thread(target=smtp.serve_forever, daemon=True).start()
    fast = {"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    slow = {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp_port), "EMAIL_TIMEOUT": "10"}
    configs = [("inline (no broker)", "locmem", fast, ""), ("broker", "locmem", fast, broker_url),
               ("inline (no broker)", f"SMTP greeting after {SMTP_DELAY:.0f} s", slow, ""),
               ("broker", f"SMTP greeting after {SMTP_DELAY:.0f} s", slow, broker_url)]
    medians = {}
    enqueued = []
    try:
        for mode, backend, email_env, broker_url in configs:
            orders = payable_orders(PAY_WARMUP + PAY_SAMPLES)
            gun = start_gunicorn(wsgi="shop.wsgi", port=port, env={**env, **email_env, "CELERY_BROKER_URL": broker_url},
                                 log=VAR / "gunicorn-pay.log")
            smtp_before = smtp.messages
            try:
                results = [pay(port, number, key) for number, key in orders]
            finally:
                stop(gun)
            answers = collections.Counter((code, status) for _, code, status in results)
            samples = [ms for ms, _, _ in results[PAY_WARMUP:]]
            p50 = statistics.median(samples)
            medians[(mode, backend)] = p50
            smtp_messages = smtp.messages - smtp_before
            if broker_url:
                enqueued += [number for number, _ in orders]
            ok = answers == {(200, "succeeded"): len(orders)}
            target, met = None, None
            if broker_url and backend != "locmem":
                fast_p50 = medians[("broker", "locmem")]
                target, met = "SMTP off the request: < locmem + 200 ms", ok and p50 < fast_p50 + 200
            record("queued", f"pay request p50, {mode}, email {backend}", f"{p50:.0f}", "ms", target=target, ok=met,
                   note=f"p90 {percentile(samples, 90):.0f} ms, {PAY_SAMPLES} requests; answers {dict(answers)}"
                        + (f"; {smtp_messages} emails at the SMTP server during the requests" if backend != "locmem"
                           else ""))
        # The emails owed with a broker wait in its queue: a worker sends them (at the slow SMTP server too)
        workers = Workers({**env, **fast}, processes=1, concurrency=4, tag="pay")
        workers.start()
        try:
            numbers = {str(n) for n in enqueued}
            pks = list(Order.objects.filter(number__in=numbers).values_list("pk", flat=True))
            deadline = time.monotonic() + DRAIN_CAP
            owed = OutgoingEmail.objects.filter(kind=OutgoingEmail.PAID, object_pk__in=pks)
            while owed.exclude(status=OutgoingEmail.SENT).exists() or broker.llen("celery") + broker.hlen("unacked"):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.25)
        finally:
            workers.stop()
        sent = owed.filter(status=OutgoingEmail.SENT).count()
        print(f"  emails enqueued by the pay requests with a broker, then sent by a worker: {sent}/{len(pks)}",
              flush=True)
    finally:
        smtp.shutdown()
        smtp.server_close()


def empty_queue(broker):
    """Delete Celery's keys only (the queue, unacknowledged messages, kombu's bindings): the Redis database may
    hold something else too, a demo's cache for one."""
    keys = [key for pattern in ("celery", "celery*", "_kombu.*", "unacked*") for key in broker.scan_iter(pattern)]
    if keys:
        broker.delete(*keys)


def main():
    broker = redis.Redis.from_url(BROKER)
    empty_queue(broker)
    env = {**os.environ, "CELERY_BROKER_URL": BROKER}
    stripe_proc = None
    run = uuid.uuid4().hex[:8]
    try:
        stripe_proc = start_localstripe(int(os.environ["BENCH_STRIPE_PORT"]))
        webhooks_part(env, broker, stripe_proc.pid, run)
        # localstripe slows down as its store grows (thousands of intents and charges by now): a fresh one
        # for the pay requests, as for the webhooks
        stop(stripe_proc)
        stripe_proc = start_localstripe(int(os.environ["BENCH_STRIPE_PORT"]))
        pay_part(env, broker, BROKER)
    finally:
        stop(stripe_proc)
        empty_queue(broker)


if __name__ == "__main__":
    main()
