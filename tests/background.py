"""Background work in tests: the real Redis broker and real Celery worker processes.

`broker` (fixture, tests/conftest.py) points the shop at a Redis database of its own on 127.0.0.1:6379
(emptied before and after), so tasks are sent to Redis instead of running inline. `CeleryWorker` starts
``celery -A shop worker`` against the test's database (its committed data: use it from
``transaction=True`` tests on PostgreSQL) and stops it by its pid (TERM: a warm shutdown; then KILL of
its process group). `wait_for` polls a condition: a liveness bound, never a speed assertion.
"""

import os
import signal
import subprocess
import sys
import tempfile
import time

import redis
from django.conf import settings
from kombu import pools

from tests.live_server import ROOT, database_url

REDIS_URL = "redis://127.0.0.1:6379"
QUEUE = "celery"  # Celery's default queue: a Redis list of that name


class Broker:
    def __init__(self, db):
        self.db = db
        self.url = f"{REDIS_URL}/{db}"
        self.redis = redis.Redis.from_url(self.url)

    def queued(self):
        """Messages waiting in the queue (not yet taken by a worker)."""
        return self.redis.llen(QUEUE)

    def drop_queued(self):
        """Delete every waiting message, as a broker that lost them would. Returns how many."""
        count = self.queued()
        self.redis.delete(QUEUE)
        return count

    def flush(self):
        """Delete Celery's keys (the queue, kombu's bindings, unacknowledged messages) and nothing else: the
        database may be shared with a demo's cache."""
        keys = [k for pattern in (QUEUE, f"{QUEUE}*", "_kombu.*", "unacked*") for k in self.redis.scan_iter(pattern)]
        if keys:
            self.redis.delete(*keys)


def use_broker(url):
    """Point the Celery app (and the settings the queue reads) at `url` ("" = inline)."""
    from shop.celery import app

    settings.CELERY_BROKER_URL = url
    app.conf.broker_url = url or None
    # The producer pool holds connections to the previous broker. kombu keeps its pools in global registries
    # keyed by the broker URL: closing one in place (force_close_all) hands the next test on the same URL a
    # closed pool ("Acquire on closed pool"), so empty the registries instead.
    pools.reset()
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


class CeleryWorker:
    def __init__(self, broker, *, env=None, concurrency=2, startup_timeout=60.0):
        self.broker = broker
        self.env = dict(env or {})
        self.concurrency = concurrency
        self.startup_timeout = startup_timeout
        self.process = None
        self._log = None

    def start(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "PYTEST_", "CELERY_"))}
        env.update({
            "DJANGO_SETTINGS_MODULE": "shop.settings_test",
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": self.broker.url,
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        })
        env.update(self.env)
        self._log = tempfile.NamedTemporaryFile(prefix="celery-worker-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "shop", "worker", "--loglevel=INFO",
             f"--concurrency={self.concurrency}", "--without-gossip", "--without-mingle", "--without-heartbeat",
             f"--hostname=test-{os.getpid()}-{time.monotonic_ns()}@127.0.0.1"],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.startup_timeout
        while "ready." not in self.output():
            if self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited with {self.process.returncode}:\n{self.output()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"celery worker not ready:\n{self.output()}")
            time.sleep(0.2)
        return self

    def stop(self):
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)  # warm shutdown: finish the task in hand
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

    def output(self):
        if self._log is None:
            return ""
        with open(self._log.name, "rb") as log:
            return log.read().decode("utf-8", "replace")[-8000:]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        if self._log is not None:
            self._log.close()
            os.unlink(self._log.name)
            self._log = None


def wait_for(condition, *, timeout=90.0, interval=0.2, what="the condition", explain=None):
    """Poll `condition()` until it is truthy (returns it); fail after `timeout` seconds (liveness only),
    with `explain()` (e.g. a worker's log) in the message."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:.0f} s\n{explain() if explain else ''}")
        time.sleep(interval)
