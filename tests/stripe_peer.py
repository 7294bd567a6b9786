"""localstripe as a separate process for the tests (DESIGN "Stripe boundary": offline peer).

`LocalStripe` starts `scripts/localstripe_server.py` (127.0.0.1 only, persistence off) on a free
port, waits until it answers, and stops it by its pid. `flush()` empties its store through
localstripe's own `DELETE /_config/data`, so one process serves a whole test session.

The helpers below speak raw HTTP (the project imports `stripe` only in shop/payments/gateway/):
they do what a browser or localstripe's Stripe.js stand-in would do, which the gateway must not.
"""

import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

LAUNCHER = Path(__file__).resolve().parent.parent / "scripts" / "localstripe_server.py"
TEST_SECRET_KEY = "sk_test_p6_localstripe"
TEST_PUBLISHABLE_KEY = "pk_test_p6_localstripe"

# Never send loopback traffic through an HTTP(S)_PROXY from the environment.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """A test server as a separate process on 127.0.0.1: started on a free port, waited for until
    `health_path` answers 200, stopped by its pid (terminate, then kill). Its output is kept for errors."""

    name = "server"
    health_path = "/"

    def __init__(self, *, port: int | None = None, startup_timeout: float = 20.0):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen | None = None
        self._log = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self):
        self._log = tempfile.TemporaryFile(prefix=f"{self.name}-")
        self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=self._log,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.output()}")
            try:
                with _opener.open(f"{self.url}{self.health_path}", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not answer on {self.url}:\n{self.output()}")
            time.sleep(0.05)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def output(self) -> str:
        """The server's stdout/stderr so far (the tail)."""
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-4000:]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class LocalStripe(ServerProcess):
    name = "localstripe"
    health_path = "/js.stripe.com/v3/"

    def command(self) -> list[str]:
        return [sys.executable, str(LAUNCHER), "--port", str(self.port)]

    def flush(self) -> None:
        """Forget every object (localstripe's flush endpoint; its registered webhooks stay)."""
        request("DELETE", self.url, "/_config/data", auth=False)


def request(method: str, base_url: str, path: str, data: dict | None = None, *, auth: bool = True):
    """A form-encoded request to localstripe; returns the decoded JSON (or None for an empty body).
    Raises urllib.error.HTTPError on a non-2xx answer."""
    body = urllib.parse.urlencode(_flatten(data or {})).encode() if data is not None else None
    req = urllib.request.Request(base_url + path, data=body, method=method)
    if auth:
        req.add_header("Authorization", f"Bearer {TEST_SECRET_KEY}")
    with _opener.open(req, timeout=10) as resp:
        raw = resp.read()
    return json.loads(raw) if raw.strip() else None


def _flatten(data: dict, prefix: str = "") -> list[tuple[str, str]]:
    """{'card': {'number': '4242'}} -> [('card[number]', '4242')], as Stripe's form encoding."""
    pairs = []
    for key, value in data.items():
        name = f"{prefix}[{key}]" if prefix else key
        if isinstance(value, dict):
            pairs.extend(_flatten(value, name))
        else:
            pairs.append((name, str(value).lower() if isinstance(value, bool) else str(value)))
    return pairs


def create_card_payment_method(base_url: str, number: str) -> str:
    """A PaymentMethod for raw card data (localstripe allows it; real Stripe mostly does not)."""
    pm = request(
        "POST",
        base_url,
        "/v1/payment_methods",
        {"type": "card", "card": {"number": number, "exp_month": "12", "exp_year": "2034", "cvc": "123"}},
    )
    return pm["id"]


def authenticate_intent(base_url: str, intent_id: str, *, client_secret: str, success: bool) -> dict:
    """Complete or fail 3DS as localstripe's Stripe.js stand-in does (publishable key only)."""
    return request(
        "POST",
        base_url,
        f"/v1/payment_intents/{intent_id}/_authenticate",
        {"key": TEST_PUBLISHABLE_KEY, "client_secret": client_secret, "success": success},
        auth=False,
    )


def create_uncaptured_charge(base_url: str, *, amount_minor: int, currency: str) -> str:
    """A card charge that is authorised but not captured: it has no balance transaction yet."""
    charge = request(
        "POST",
        base_url,
        "/v1/charges",
        {"amount": amount_minor, "currency": currency, "source": "pm_card_visa", "capture": False},
    )
    return charge["id"]


def count_objects(base_url: str, resource: str) -> int:
    """How many objects of a kind localstripe holds, e.g. count_objects(url, 'payment_intents')."""
    return request("GET", base_url, f"/v1/{resource}")["total_count"]
