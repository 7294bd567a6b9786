"""The shop served by gunicorn for the tests that need real processes (webhook storm, faults).

`Gunicorn` starts ``gunicorn shop.wsgi`` with several workers on a free 127.0.0.1 port, against the
database the test uses (its committed data: use it from ``transaction=True`` tests) and the Stripe
settings the test gives, waits until it answers, and stops it by its pid (TERM, then KILL).

`post` is a small urllib client (no proxy from the environment) that returns (status, body) and never
raises for an HTTP status, so a load loop can count answers.
"""

import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.db import connection

from tests.stripe_peer import free_port

ROOT = Path(__file__).resolve().parent.parent
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def database_url():
    """A DATABASE_URL for the database this test process is connected to (the test database)."""
    s = connection.settings_dict
    if connection.vendor != "postgresql":
        raise RuntimeError("gunicorn tests need PostgreSQL (the SQLite test database lives in memory)")
    auth = s["USER"] or ""
    if s["PASSWORD"]:
        auth += f":{s['PASSWORD']}"
    host = s["HOST"] or "127.0.0.1"
    port = s["PORT"] or 5432
    return f"postgres://{auth}@{host}:{port}/{s['NAME']}"


class Gunicorn:
    def __init__(self, *, env=None, workers=4, timeout=60, startup_timeout=60.0):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.timeout = timeout
        self.startup_timeout = startup_timeout
        self.env = dict(env or {})
        self.process = None
        self._log = None

    def start(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "PYTEST_"))}
        env.update({
            "DJANGO_SETTINGS_MODULE": "shop.settings_test",
            "DATABASE_URL": database_url(),
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        })
        env.update(self.env)
        self._log = tempfile.TemporaryFile(prefix="gunicorn-")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "shop.wsgi", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(self.workers), "--timeout", str(self.timeout), "--graceful-timeout", "5"],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.output()}")
            status, _ = get(self.url + "/payments/stripe/webhook/", timeout=2)
            if status == 405:  # the webhook answers only POST: the app is up
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gunicorn did not answer on {self.url}:\n{self.output()}")
            time.sleep(0.2)

    def stop(self):
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def output(self):
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-6000:]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        if self._log is not None:
            self._log.close()
            self._log = None


def get(url, *, timeout=10):
    try:
        with _opener.open(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return None, b""


def post(url, body, *, headers=None, timeout=30):
    req = urllib.request.Request(url, data=body, method="POST", headers=headers or {})
    try:
        with _opener.open(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError as exc:
        return None, str(exc).encode()
