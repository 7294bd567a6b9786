"""The flash sale (issue 15): the celebrity's post, fans arriving at a rate, on the whole stack.

The stack, all on 127.0.0.1 and started and stopped here by process group: PostgreSQL (BENCH_FLASH_DB, a fresh
copy of the seed that bench/setup_dbs.sh's setup_flash makes), Redis database BENCH_FLASH_REDIS as the cache
(REDIS_URL) and the broker (CELERY_BROKER_URL; only this script's keys are deleted, before and after), gunicorn
4 workers of our shop, 2 `celery -A shop worker` processes, and the project's Stripe-shaped fake
(tests/fakestripe/server.py: Stripe's objects, real fees, idempotency keys honoured) as Stripe.

Stock: every record plentiful except BENCH_FLASH_LIMITED (SKU=units, default three T-shirt variants with a few
units each), which half the fans who open the T-shirt want: they race for the last units.

The fans are locust users (bench/flash_locust.py, headless, FlashShape: a ramp to BENCH_FLASH_USERS over
BENCH_FLASH_RAMP s, a hold of BENCH_FLASH_HOLD s, a decay over BENCH_FLASH_DECAY s): catalogue, product page,
basket add, guest checkout, "Place order", payment (pm_card_visa at the fake). Stripe's side: a thread here finds
each intent the shop made (its PaymentAttempt rows), and once the fake says it succeeded has the fake render the
`payment_intent.succeeded` event (Stripe's exact envelope), signs it with the webhook secret and POSTs it to
/payments/stripe/webhook/ (a share of them twice, as Stripe's retries do); the workers process them.

Figures (bench/common.py's record): paid orders/s sustained (the hold) and peak (best 5 s), p50/p95/p99 per
step and the product page's p95 at the peak, sold-out outcomes, errors by kind; then, with the workers drained,
the correctness figures from the database: oversold units, paid orders without a sale or with two, sales on
unpaid orders, `manage.py verify_ledger`, donations = breakdowns = beneficiaries' parts, server errors (5xx,
tracebacks in the logs, failed events); and the CPU each part used (psutil: gunicorn, PostgreSQL, the workers,
the fake, the load generator). Then the browse + basket scenario against ours and stock Oscar
(bench/stock_oscar, BENCH_STOCK_ENV) with the same shape, shorter (BENCH_FLASH_BROWSE_HOLD), for the ratio.

Run by bench/run (`--only flash`), with our settings in the environment.
"""

import collections
import http.client
import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

import django  # noqa: E402

django.setup()

import psutil  # noqa: E402
import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connections  # noqa: E402
from django.db.models import Count, F, Q, Sum  # noqa: E402
from oscar.core.loading import get_model  # noqa: E402

from common import ROOT, record, start_gunicorn, stop  # noqa: E402
from fundraising.models import Account, BreakdownPart, Entry, LedgerTransaction, OrderLineBreakdown  # noqa: E402
from queued import Workers, empty_queue  # noqa: E402
from shop.jobs.models import OutgoingEmail  # noqa: E402
from shop.payments.models import PaymentAttempt, StripeEvent  # noqa: E402
from shop.payments.signing import sign_webhook_payload  # noqa: E402

Order = get_model("order", "Order")
Line = get_model("order", "Line")
Product = get_model("catalogue", "Product")
StockRecord = get_model("partner", "StockRecord")

SECTION = "flash"
PEAK = int(os.environ.get("BENCH_FLASH_USERS", "24"))
RAMP = float(os.environ.get("BENCH_FLASH_RAMP", "30"))
HOLD = float(os.environ.get("BENCH_FLASH_HOLD", "60"))
DECAY = float(os.environ.get("BENCH_FLASH_DECAY", "30"))
BROWSE_HOLD = float(os.environ.get("BENCH_FLASH_BROWSE_HOLD", "20"))
BROWSE_RAMP, BROWSE_DECAY = 10.0, 5.0  # the browse runs' shape: a short ramp to the same peak, the hold, a stop
LIMITED = dict((sku, int(units)) for sku, units in (
    pair.split("=") for pair in os.environ.get("BENCH_FLASH_LIMITED", "P6-TEE-BLK-M=6,P6-TEE-BLK-S=4,P6-TEE-WHT-M=8")
    .split(",") if pair))
PLENTY = 1_000_000
DUPLICATES = float(os.environ.get("BENCH_FLASH_DUPLICATES", "0.1"))  # share of events delivered twice
WORKER_PROCESSES, WORKER_CONCURRENCY = 2, 2
PRODUCT_P95_TARGET = 250
DRAIN_CAP = 300  # seconds: a bound on the wait, never a figure
REDIS = os.environ.get("BENCH_FLASH_REDIS", "redis://127.0.0.1:6379/13")
VAR = Path(os.environ.get("BENCH_VAR", ROOT / "var" / "bench"))
STRIPE_KEY = "sk_test_p6_flash_bench"
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# --- processes and their CPU -------------------------------------------------------------------------------


def cpu_snapshot(roots):
    """{(pid, create time): CPU seconds} of the root processes and all their descendants, plus the roots'
    reaped children (children_user/system: a PostgreSQL backend or a worker's child that exited)."""
    snap = {}
    for root in roots:
        try:
            proc = psutil.Process(root)
            family = [proc] + proc.children(recursive=True)
        except psutil.NoSuchProcess:
            continue
        for p in family:
            try:
                t = p.cpu_times()
                own = t.user + t.system
                if p.pid == root:
                    snap[(p.pid, p.create_time(), "reaped")] = t.children_user + t.children_system
                snap[(p.pid, p.create_time())] = own
            except psutil.NoSuchProcess:
                pass
    return snap


def cpu_used(before, after):
    return sum(value - before.get(key, 0.0) for key, value in after.items())


def postmaster_pid():
    for proc in psutil.process_iter(["name", "ppid"]):
        if proc.info["name"] in ("postgres", "postmaster"):
            try:
                if psutil.Process(proc.info["ppid"]).name() not in ("postgres", "postmaster"):
                    return proc.pid
            except psutil.NoSuchProcess:
                pass
    return None


def start_fake_stripe(port):
    log = open(VAR / "flash-fakestripe.log", "w")
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fakestripe" / "server.py"), "--port", str(port)],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    for _ in range(200):
        try:
            with _direct.open(f"http://127.0.0.1:{port}/_fake/health", timeout=1):
                return proc
        except OSError:
            time.sleep(0.1)
    stop(proc)
    raise RuntimeError("the Stripe fake did not start (var/bench/flash-fakestripe.log)")


def delete_keys(client):
    """This script's keys only: the cache's (KEY_PREFIX p6) and Celery's."""
    keys = list(client.scan_iter("p6:*"))
    if keys:
        client.delete(*keys)
    empty_queue(client)


# --- Stripe's side: events for every intent that succeeded --------------------------------------------------


class StripeEvents(threading.Thread):
    """Stripe delivering `payment_intent.succeeded`: for each intent the shop made (a PaymentAttempt with an
    intent id), once the fake reports it succeeded, the fake renders the event, which is signed and POSTed to
    the shop (a share of them twice, Stripe's retries). Runs until `finish()` and nothing is left to send."""

    def __init__(self, *, stripe_url, shop_port):
        super().__init__(daemon=True)
        self.stripe_url, self.shop_port = stripe_url, shop_port
        self.pending, self.done_intents, self.event_ids = {}, set(), []
        self.answers, self.latencies = collections.Counter(), []
        self.last_pk, self.finishing, self.failure = 0, threading.Event(), None

    def stripe(self, method, path, data=None, *, auth=True):
        body = json.dumps(data).encode() if data is not None else None
        req = urllib.request.Request(self.stripe_url + path, data=body, method=method,
                                     headers={"Content-Type": "application/json"})
        if auth:
            req.add_header("Authorization", f"Bearer {STRIPE_KEY}")
        with _direct.open(req, timeout=30) as resp:
            return json.loads(resp.read())

    def deliver(self, body):
        header = sign_webhook_payload(payload=body, secret=settings.STRIPE_WEBHOOK_SECRET)
        t = time.perf_counter()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.shop_port, timeout=60)
            conn.request("POST", "/payments/stripe/webhook/", body=body,
                         headers={"Content-Type": "application/json", "Stripe-Signature": header})
            resp = conn.getresponse()
            answer = resp.read()
            conn.close()
            try:
                detail = json.loads(answer).get("outcome")
            except ValueError:
                detail = "?"
            outcome = f"{resp.status} {detail}"
        except OSError as exc:
            outcome = f"error {type(exc).__name__}"
        self.latencies.append((time.perf_counter() - t) * 1000)
        self.answers[outcome] += 1

    def poll(self):
        for pk, intent_id in (PaymentAttempt.objects.filter(pk__gt=self.last_pk).exclude(intent_id=None)
                              .order_by("pk").values_list("pk", "intent_id")):
            self.last_pk = pk
            self.pending.setdefault(intent_id, time.monotonic())
        for intent_id in list(self.pending):
            status = self.stripe("GET", f"/v1/payment_intents/{intent_id}")["status"]
            if status == "succeeded":
                event = self.stripe("POST", "/_fake/events", {"type": "payment_intent.succeeded",
                                                              "object_id": intent_id}, auth=False)
                body = json.dumps(event).encode()
                self.event_ids.append(event["id"])
                self.deliver(body)
                if random.random() < DUPLICATES:
                    self.deliver(body)
                del self.pending[intent_id]
                self.done_intents.add(intent_id)
            elif status == "canceled" or time.monotonic() - self.pending[intent_id] > 120:
                del self.pending[intent_id]

    def run(self):
        try:
            while True:
                finishing = self.finishing.is_set()
                self.poll()
                if finishing and not self.pending:
                    return
                time.sleep(0.5)
        except Exception as exc:  # reported by the main thread
            self.failure = exc
        finally:
            connections.close_all()

    def finish(self, timeout=150):
        self.finishing.set()
        self.join(timeout)
        if self.failure:
            raise RuntimeError(f"Stripe's event sender failed: {self.failure!r}") from self.failure


# --- the load ----------------------------------------------------------------------------------------------


def run_locust(*, port, scenario, hold, extra_env, tag, ramp=RAMP, decay=DECAY):
    """Run the fans headless (bounded by the shape; a hard timeout too); return (samples, seconds, client CPU)."""
    samples = VAR / f"flash-{tag}-samples.jsonl"
    samples.unlink(missing_ok=True)
    env = {**os.environ, **extra_env, "BENCH_FLASH_SCENARIO": scenario, "BENCH_FLASH_SAMPLES": str(samples),
           "BENCH_FLASH_USERS": str(PEAK), "BENCH_FLASH_RAMP": str(ramp), "BENCH_FLASH_HOLD": str(hold),
           "BENCH_FLASH_DECAY": str(decay)}
    cmd = [sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "flash_locust.py"), "--headless",
           "--host", f"http://127.0.0.1:{port}", "--only-summary", "--stop-timeout", "30", "--loglevel", "WARNING",
           "--exit-code-on-error", "0"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.time()
    with open(VAR / f"flash-{tag}-locust.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout=ramp + hold + decay + 120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
            raise RuntimeError(f"locust ({tag}) overran its bound") from None
    seconds = time.time() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode or not samples.exists():
        raise RuntimeError(f"locust ({tag}) failed with {proc.returncode}: see {VAR / f'flash-{tag}-locust.log'}")
    rows = [json.loads(line) for line in samples.read_text().splitlines() if line.strip()]
    return rows, seconds, client


def percentile(values, p):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def by_step(rows, *, start=None, end=None):
    steps = collections.defaultdict(list)
    for row in rows:
        if row["kind"] == "request" and (start is None or start <= row["t"] <= end):
            steps[row["name"]].append(row)
    return dict(sorted(steps.items()))


# --- setting up ----------------------------------------------------------------------------------------------


def limit_stock():
    StockRecord.objects.update(num_in_stock=PLENTY, num_allocated=0)
    for sku, units in LIMITED.items():
        assert StockRecord.objects.filter(partner_sku=sku).update(num_in_stock=units) == 1, sku
    tee = Product.objects.get(upc="P6-TEE")
    limited_ids = list(StockRecord.objects.filter(partner_sku__in=LIMITED).values_list("product_id", flat=True))
    return tee.get_absolute_url(), limited_ids


def stock_featured(stock_env):
    code = ("import django;django.setup();from oscar.core.loading import get_model;"
            "print(get_model('catalogue','Product').objects.get(upc='P6-TEE').get_absolute_url())")
    out = subprocess.run([sys.executable, "-c", code], env=stock_env, cwd=ROOT / "bench", capture_output=True,
                         text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


# --- figures -------------------------------------------------------------------------------------------------


def load_figures(rows, t0, seconds):
    hold_start, hold_end = t0 + RAMP, t0 + RAMP + HOLD
    outcomes = collections.Counter(row["name"] for row in rows if row["kind"] == "outcome")
    paid_times = sorted(row["t"] for row in rows if row["kind"] == "outcome" and row["name"] == "paid")
    in_hold = sum(hold_start <= t <= hold_end for t in paid_times)
    window = 5.0
    best = max((sum(s <= t < s + window for t in paid_times) for s in paid_times), default=0)
    record(SECTION, "paid orders/s sustained (the hold at the peak)", f"{in_hold / HOLD:.2f}", "orders/s",
           note=f"{in_hold} paid in the {HOLD:.0f} s hold at {PEAK} fans; {len(paid_times)} paid in the whole run "
                f"({len(paid_times) / seconds:.2f}/s over {seconds:.0f} s: ramp {RAMP:.0f} s, hold {HOLD:.0f} s, "
                f"decay {DECAY:.0f} s)")
    record(SECTION, "paid orders/s peak (best 5 s)", f"{best / window:.2f}", "orders/s")
    steps = by_step(rows)
    peak_steps = by_step(rows, start=hold_start, end=hold_end)
    for name, samples in steps.items():
        ms = [s["ms"] for s in samples]
        failed = sum(1 for s in samples if s["error"])
        peak = [s["ms"] for s in peak_steps.get(name, [])]
        record(SECTION, f"{name} p50 / p95 / p99", f"{percentile(ms, 50):.0f} / {percentile(ms, 95):.0f} / "
               f"{percentile(ms, 99):.0f}", "ms",
               note=f"{len(ms)} requests, {failed} failed; at the peak (hold): p50 {percentile(peak, 50):.0f}, "
                    f"p95 {percentile(peak, 95):.0f} ms")
    product_peak = [s["ms"] for s in peak_steps.get("02 product page", [])]
    p95 = percentile(product_peak, 95)
    record(SECTION, f"product page p95 at the peak ({PEAK} fans)", f"{p95:.0f}", "ms",
           target=f"< {PRODUCT_P95_TARGET} ms", ok=bool(product_peak) and p95 < PRODUCT_P95_TARGET,
           note=f"{len(product_peak)} requests in the hold")
    errors = collections.Counter()
    for row in rows:
        if row["kind"] == "request" and row["error"]:
            errors[f"{row['name']}: {row['error']}"] += 1
    sold_out = {name: n for name, n in outcomes.items() if name.startswith(("sold out", "limited"))}
    record(SECTION, "fans: paid / sold out (expected) / errors",
           f"{outcomes.get('paid', 0)} / {sum(v for k, v in sold_out.items() if k.startswith('sold out'))} / "
           f"{outcomes.get('error', 0)}", "fans", note=f"sold-out outcomes {sold_out}")
    record(SECTION, "request errors by kind", f"{sum(errors.values())}", "requests",
           note=json.dumps(dict(errors.most_common(12))) if errors else "none")
    server_errors = sum(1 for row in rows if row["kind"] == "request" and (row["status"] or 0) >= 500)
    return paid_times, server_errors


def correctness(*, events, paid_fans, server_errors, logs):
    """The figures from the database, once the workers have drained everything."""
    records = {r.partner_sku: r for r in StockRecord.objects.all()}
    oversold = sum(max(0, (r.num_allocated or 0) - r.num_in_stock) for r in records.values())
    sold = dict(Line.objects.filter(partner_sku__in=LIMITED).exclude(order__status="Cancelled")
                .values_list("partner_sku").annotate(n=Sum("quantity")))
    oversold += sum(max(0, sold.get(sku, 0) - units) for sku, units in LIMITED.items())
    detail = ", ".join(f"{sku}: {sold.get(sku, 0)} sold of {units}" for sku, units in LIMITED.items())
    record(SECTION, "oversold units (net stock < 0, or limited lines > their stock)", f"{oversold}", "units",
           target="0", ok=oversold == 0, note=detail)

    orders = Order.objects.annotate(sales=Count("ledger_transactions", filter=Q(ledger_transactions__kind="sale")))
    paid = orders.filter(status="Paid")
    without, double = paid.filter(sales=0).count(), paid.filter(sales__gt=1).count()
    unpaid_sales = orders.exclude(status="Paid").filter(sales__gt=0).count()
    statuses = dict(Order.objects.values_list("status").annotate(n=Count("id")))
    record(SECTION, "paid orders without a sale / with two / sales on unpaid orders",
           f"{without} / {double} / {unpaid_sales}", "orders", target="0 / 0 / 0",
           ok=without == double == unpaid_sales == 0 and paid.count() == paid_fans,
           note=f"orders by status {statuses}; fans told 'paid' {paid_fans}")

    verify = subprocess.run([sys.executable, "manage.py", "verify_ledger"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    last = (verify.stdout.strip().splitlines() or [""])[-1]
    record(SECTION, "manage.py verify_ledger", f"exit {verify.returncode}", "", target="exit 0",
           ok=verify.returncode == 0, note=last if verify.returncode == 0
           else (verify.stdout + verify.stderr).strip()[-600:])

    breakdowns = OrderLineBreakdown.objects.filter(order__status="Paid")
    donated = breakdowns.aggregate(s=Sum("donation"))["s"] or 0
    parts = BreakdownPart.objects.filter(breakdown__order__status="Paid").aggregate(s=Sum("amount"))["s"] or 0
    booked = Entry.objects.filter(transaction__kind="sale", account__kind=Account.Kind.PAYABLE).aggregate(
        s=Sum(F("credit") - F("debit")))["s"] or 0
    incomplete = breakdowns.filter(completed_at=None).count()
    per_order = (OrderLineBreakdown.objects.filter(order__status="Paid").values("order_id")
                 .annotate(d=Sum("donation")))
    booked_by_order = dict(Entry.objects.filter(transaction__kind="sale", account__kind=Account.Kind.PAYABLE)
                           .values_list("transaction__order_id").annotate(s=Sum(F("credit") - F("debit"))))
    mismatched = sum(1 for row in per_order if booked_by_order.get(row["order_id"], 0) != row["d"])
    record(SECTION, "donations booked = breakdowns = beneficiaries' parts", f"{booked} / {donated} / {parts}",
           "USD", target="equal, per order too", ok=booked == donated == parts and mismatched == 0 and not incomplete,
           note=f"{mismatched} orders whose sale differs from their breakdowns; {incomplete} breakdowns of paid "
                f"orders not completed; {LedgerTransaction.objects.filter(kind='sale').count()} sales")

    outcomes = collections.Counter(StripeEvent.objects.filter(event_id__in=events.event_ids)
                                   .values_list("outcome", flat=True))
    hook_5xx = sum(n for answer, n in events.answers.items() if answer[:1] not in "234")
    tracebacks, expected = {}, 0
    for name, path in logs.items():
        problems, sold_out = log_errors(path)
        tracebacks[name], expected = problems, expected + sold_out
    failed_emails = OutgoingEmail.objects.exclude(status=OutgoingEmail.SENT).count()
    total = server_errors + hook_5xx + sum(tracebacks.values()) + outcomes.get(StripeEvent.FAILED, 0)
    record(SECTION, "server errors (5xx to fans or Stripe, tracebacks in the logs, failed events)", f"{total}",
           "errors", target="0", ok=total == 0,
           note=f"fans' 5xx {server_errors}; webhook answers {dict(events.answers)}; events {dict(outcomes)} of "
                f"{len(events.event_ids)} sent; errors or tracebacks in the logs {tracebacks} (and {expected} ERROR "
                f"records of Oscar's checkout for an OutOfStock at placement: a sold-out fan, expected); emails not "
                f"sent {failed_emails}")


# a record's first line: Django's logging format (gunicorn) or Celery's ("[2026-01-01 00:00:00,000: INFO/...")
LOG_RECORD = re.compile(r"^\[?\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+", re.M)


def log_errors(path):
    """(ERROR/CRITICAL records or tracebacks in a log, the expected ones left out; the expected ones): Oscar's
    checkout logs an ERROR with the traceback when placement raises our OutOfStock, a fan's expected outcome."""
    if not path.exists():
        return 0, 0
    text = path.read_text(errors="replace")
    starts = [m.start() for m in LOG_RECORD.finditer(text)]
    chunks = [text[a:b] for a, b in zip([0] + starts, starts + [len(text)], strict=True) if text[a:b].strip()]
    problems = expected = 0
    for chunk in chunks:
        head = chunk.split("\n", 1)[0]
        if not re.search(r"[ :](ERROR|CRITICAL)[ /]", head) and "Traceback" not in chunk:
            continue
        if "oscar.checkout" in head and "unable to place order" in head and \
                chunk.rstrip().splitlines()[-1].startswith("shop.checkout.stock.OutOfStock:"):
            expected += 1
        else:
            problems += 1
    return problems, expected


def drained(client, event_ids):
    left = StripeEvent.objects.filter(event_id__in=event_ids).exclude(
        outcome__in=(StripeEvent.PROCESSED, StripeEvent.IGNORED, StripeEvent.FAILED)).count()
    emails = OutgoingEmail.objects.exclude(status__in=(OutgoingEmail.SENT, OutgoingEmail.FAILED)).count()
    return left == 0 and emails == 0 and client.llen("celery") + client.hlen("unacked") == 0


def browse_ratio(ours, stock):
    """Browse + basket at the same shape against ours and stock Oscar: the steps' p50 and p95 side by side."""
    for name in ("01 catalogue list", "02 product page", "03 basket add", "04 basket"):
        a = [s["ms"] for s in ours[0].get(name, [])]
        b = [s["ms"] for s in stock[0].get(name, [])]
        if not a or not b:
            continue
        ratio = percentile(a, 50) / percentile(b, 50)
        fails = (sum(1 for s in ours[0][name] if s["error"]), sum(1 for s in stock[0][name] if s["error"]))
        record(SECTION, f"browse+basket {name} p50 / p95 ours vs stock",
               f"{percentile(a, 50):.0f}/{percentile(a, 95):.0f} vs {percentile(b, 50):.0f}/{percentile(b, 95):.0f}",
               "ms", ratio=round(ratio, 2),
               note=f"{len(a)} / {len(b)} requests ({len(a) / ours[1]:.1f} / {len(b) / stock[1]:.1f} req/s), "
                    f"failed {fails[0]} / {fails[1]}; ratio = p50 ours / stock")


# --- main ----------------------------------------------------------------------------------------------------


def main():
    VAR.mkdir(parents=True, exist_ok=True)
    port, stripe_port = int(os.environ["BENCH_FLASH_PORT"]), int(os.environ["BENCH_FLASH_STRIPE_PORT"])
    stripe_url = f"http://127.0.0.1:{stripe_port}"
    env = {**os.environ, "REDIS_URL": REDIS, "CELERY_BROKER_URL": REDIS, "STRIPE_API_BASE": stripe_url,
           "STRIPE_PEER": "stripe", "STRIPE_SECRET_KEY": STRIPE_KEY, "STRIPE_PUBLISHABLE_KEY": "pk_test_p6_flash",
           "STRIPE_MAX_NETWORK_RETRIES": "0", "STRIPE_TIMEOUT": "30"}
    featured, limited_ids = limit_stock()
    client = redis.Redis.from_url(REDIS)
    delete_keys(client)
    logs = {"gunicorn": VAR / "flash-gunicorn.log"}
    fake = gun = workers = events = None
    try:
        fake = start_fake_stripe(stripe_port)
        gun = start_gunicorn(wsgi="shop.wsgi", port=port, env=env, log=logs["gunicorn"])
        workers = Workers(env, processes=WORKER_PROCESSES, concurrency=WORKER_CONCURRENCY, tag="flash").start()
        logs.update({f"celery-{i}": path for i, path in enumerate(workers.logs)})
        roots = {"shop (gunicorn)": [gun.pid], "PostgreSQL (whole server)": [postmaster_pid()],
                 "Celery workers": [p.pid for p in workers.procs], "Stripe fake": [fake.pid]}
        roots = {name: [pid for pid in pids if pid] for name, pids in roots.items()}
        cpu_before = {name: cpu_snapshot(pids) for name, pids in roots.items()}
        machine_before, sender_before = psutil.cpu_times(), time.process_time()
        events = StripeEvents(stripe_url=stripe_url, shop_port=port)
        events.start()
        t0 = time.time()
        print(f"  flash sale: {PEAK} fans at the peak, ramp {RAMP:.0f} s, hold {HOLD:.0f} s, decay {DECAY:.0f} s; "
              f"limited {LIMITED}", flush=True)
        rows, seconds, locust_cpu = run_locust(
            port=port, scenario="purchase", hold=HOLD, tag="purchase",
            extra_env={"BENCH_FLASH_FEATURED": featured, "BENCH_FLASH_LIMITED_IDS": ",".join(map(str, limited_ids))})
        events.finish()
        deadline = time.monotonic() + DRAIN_CAP
        while not drained(client, events.event_ids) and time.monotonic() < deadline:
            time.sleep(0.25)
        drain_seconds = time.time() - t0 - seconds
        cpu = {name: cpu_used(cpu_before[name], cpu_snapshot(pids)) for name, pids in roots.items()}
        machine_after = psutil.cpu_times()
        cpu["load generator (locust)"] = locust_cpu
        cpu["Stripe's events (this script)"] = time.process_time() - sender_before
        busy = (sum(machine_after) - machine_after.idle - machine_after.iowait) - (
            sum(machine_before) - machine_before.idle - machine_before.iowait)

        paid_times, server_errors = load_figures(rows, t0, seconds)
        paid = max(1, len(paid_times))
        split = ", ".join(f"{name} {used:.0f} s ({used / busy:.0%})" for name, used in cpu.items())
        capacity = psutil.cpu_count() * (seconds + drain_seconds)
        record(SECTION, "CPU: shop / PostgreSQL / workers", " / ".join(f"{cpu[k]:.0f}" for k in list(roots)[:3]),
               "s", note=f"{split}; the machine was busy {busy:.0f} s of {capacity:.0f} core-seconds (others' work "
                         f"included; PostgreSQL's figure counts the whole server)")
        record(SECTION, "CPU per paid order: shop / PostgreSQL / workers",
               " / ".join(f"{cpu[k] / paid * 1000:.0f}" for k in list(roots)[:3]), "ms",
               note="every request of the run divided by the orders paid (browsing, sold-out fans, webhooks included)")
        record(SECTION, "Stripe's webhook deliveries p50 / p99", f"{percentile(events.latencies, 50):.0f} / "
               f"{percentile(events.latencies, 99):.0f}", "ms",
               note=f"{len(events.event_ids)} events, {sum(events.answers.values())} deliveries; workers drained "
                    f"{drain_seconds:.1f} s after the last fan")
        correctness(events=events, paid_fans=len(paid_times), server_errors=server_errors, logs=logs)

        # the browse + basket scenario on ours (the sale's stock left as it is), then on stock Oscar
        ours = run_locust(port=port, scenario="browse", hold=BROWSE_HOLD, tag="browse-ours", ramp=BROWSE_RAMP,
                          decay=BROWSE_DECAY,
                          extra_env={"BENCH_FLASH_FEATURED": featured, "BENCH_FLASH_WANT_LIMITED": "0"})
    finally:
        if events is not None:
            events.finishing.set()
        if workers is not None:
            workers.stop()
        stop(gun)
        stop(fake)
        delete_keys(client)
        connections.close_all()
    stock_env = json.loads(os.environ["BENCH_STOCK_ENV"])
    stock_port = int(os.environ["BENCH_FLASH_STOCK_PORT"])
    sgun = start_gunicorn(wsgi="stock_oscar.wsgi", port=stock_port, env=stock_env, cwd=ROOT / "bench",
                          log=VAR / "flash-gunicorn-stock.log")
    try:
        stock = run_locust(port=stock_port, scenario="browse", hold=BROWSE_HOLD, tag="browse-stock",
                           ramp=BROWSE_RAMP, decay=BROWSE_DECAY,
                           extra_env={"BENCH_FLASH_FEATURED": stock_featured(stock_env),
                                      "BENCH_FLASH_WANT_LIMITED": "0"})
    finally:
        stop(sgun)
    browse_ratio((by_step(ours[0]), ours[1]), (by_step(stock[0]), stock[1]))


if __name__ == "__main__":
    main()
