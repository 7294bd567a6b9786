"""A recording, Stripe-shaped fake Stripe as a separate process (DESIGN "Stripe boundary", "Tests").

`StripeFake` starts `tests/fakestripe/server.py` (127.0.0.1 only, in memory) on a free port, waits
until it answers, and stops it by its pid; it is also a context manager. Point the gateway at
`fake.url` with any `sk_test_...` key (`fake.secret_key`). One process serves a test module; call
`flush()` between tests.

The control helpers speak raw JSON to the server's `/_fake/...` endpoints and return decoded JSON;
a refusal raises `StripeFakeError` (with `.status` and Stripe's `.error` dict). `call()` makes a raw,
form-encoded /v1 request and returns a `FakeResponse` whatever the status.

No `stripe` import here: the project imports it only in shop/payments/ (the server process itself
introspects stripe-python's params types).
"""

import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from tests.stripe_peer import ServerProcess

SERVER = Path(__file__).resolve().parent / "server.py"
TEST_SECRET_KEY = "sk_test_p6_fakestripe"
TEST_PUBLISHABLE_KEY = "pk_test_p6_fakestripe"

# Never send loopback traffic through an HTTP(S)_PROXY from the environment.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class StripeFakeError(Exception):
    """The fake refused a control request; `error` is Stripe's error dict ({type, code, message, ...})."""

    def __init__(self, status: int, body: dict):
        self.status = status
        self.body = body
        self.error = (body or {}).get("error", {})
        super().__init__(f"HTTP {status}: {self.error.get('message', body)}")


@dataclass
class FakeResponse:
    status: int
    headers: dict
    body: dict | None

    @property
    def error(self) -> dict:
        return (self.body or {}).get("error", {})


class StripeFake(ServerProcess):
    name = "fakestripe"
    health_path = "/_fake/health"

    def __init__(self, *, port: int | None = None, startup_timeout: float = 20.0, fixtures: str | None = None):
        super().__init__(port=port, startup_timeout=startup_timeout)
        self.secret_key = TEST_SECRET_KEY
        self.publishable_key = TEST_PUBLISHABLE_KEY
        self.fixtures = fixtures

    def command(self) -> list[str]:
        command = [sys.executable, str(SERVER), "--port", str(self.port)]
        if self.fixtures:
            command += ["--fixtures", str(self.fixtures)]
        return command

    # -- control --

    def _control(self, method: str, path: str, data: dict | None = None):
        body = json.dumps(data).encode() if data is not None else None
        req = urllib.request.Request(self.url + "/_fake" + path, data=body, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with _opener.open(req, timeout=40) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            raise StripeFakeError(exc.code, json.loads(raw) if raw.strip() else {}) from None

    def flush(self) -> None:
        """Forget everything: objects, recorded requests, idempotency keys, faults, settlement."""
        self._control("POST", "/flush", {})

    def requests(self, method: str | None = None, path: str | None = None) -> list[dict]:
        """The recorded /v1 requests, oldest first: {method, path, params (decoded nested dict, values as
        the strings sent), idempotency_key, stripe_version, status, replayed, fault, request_id}.
        `method` and `path` (exact) filter. A lost answer keeps the status the fake would have sent,
        with fault "lose_answer"."""
        log = self._control("GET", "/requests")["requests"]
        return [r for r in log if (method is None or r["method"] == method.upper())
                and (path is None or r["path"] == path)]

    def fault(self, method: str, path_regex: str, kind: str, times: int | None = 1,
              seconds: float | None = None) -> dict:
        """Break the next `times` (None: every) /v1 requests whose method ("*": any) and path
        (re.search) match. kind: lose_answer (do it, then close the connection unanswered),
        error_before (500 api_error, nothing done), hang (sleep `seconds` <= 30, then go on),
        not_found (404 resource_missing, nothing done). Returns the fault as stored."""
        return self._control("POST", "/faults", {"method": method, "path_regex": path_regex, "kind": kind,
                                                 "times": times, "seconds": seconds})

    def complete_3ds(self, intent_id: str, success: bool = True) -> dict:
        """What the browser does after 3DS on a requires_action intent: success charges it,
        failure sends it back to requires_payment_method. Other states: StripeFakeError 400."""
        return self._control("POST", f"/payment_intents/{intent_id}/complete_3ds", {"success": success})

    def confirm_as_browser(self, intent_id: str, payment_method: str) -> dict:
        """Stripe.js confirming with the publishable key; the intent, or StripeFakeError (402 on a decline)."""
        return self._control("POST", f"/payment_intents/{intent_id}/confirm_as_browser",
                             {"payment_method": payment_method})

    def set_refund_status(self, refund_id: str, status: str, failure_reason: str | None = None) -> dict:
        """pending -> succeeded | failed | canceled, succeeded -> failed. Returns the refund."""
        return self._control("POST", f"/refunds/{refund_id}/status",
                             {"status": status, "failure_reason": failure_reason})

    def create_refund_as_dashboard(self, charge_or_intent_id: str, amount: int | None = None,
                                   status: str = "succeeded") -> dict:
        """A refund made in Stripe's dashboard (no idempotency key, empty metadata). Returns the refund."""
        return self._control("POST", "/refunds", {"charge_or_intent": charge_or_intent_id, "amount": amount,
                                                  "status": status})

    def create_dispute(self, charge_id: str, amount: int | None = None, status: str = "needs_response",
                       currency: str | None = None, funds_withdrawn: bool = True) -> dict:
        """A dispute on a charge (marks it disputed). Funds are withdrawn (amount + 1500 fee) unless
        funds_withdrawn=False or the status is an inquiry (warning_*). Returns the dispute."""
        return self._control("POST", "/disputes", {"charge": charge_id, "amount": amount, "status": status,
                                                   "currency": currency, "funds_withdrawn": funds_withdrawn})

    def update_dispute(self, dispute_id: str, status: str, funds_reinstated: bool = False) -> dict:
        """Move a dispute; "won" (or funds_reinstated=True) reinstates withdrawn funds once."""
        return self._control("POST", f"/disputes/{dispute_id}", {"status": status,
                                                                 "funds_reinstated": funds_reinstated})

    def set_settlement(self, currency: str | None, exchange_rate=None) -> dict:
        """Settle new balance transactions in `currency` at `exchange_rate` (presentment -> settlement;
        str or Decimal keeps it exact). currency=None settles in the charge's own currency again."""
        rate = None if exchange_rate is None else str(Decimal(str(exchange_rate)))
        return self._control("POST", "/settlement", {"currency": currency, "exchange_rate": rate})

    def event(self, type: str, object_id: str, previous_attributes: dict | None = None) -> dict:
        """A Stripe-shaped event about the object's current state (pi_, ch_, re_, dp_), unsigned."""
        return self._control("POST", "/events", {"type": type, "object_id": object_id,
                                                 "previous_attributes": previous_attributes})

    def objects(self, kind: str) -> list[dict]:
        """Every object of a kind, oldest first: payment_intent, charge, refund, dispute,
        balance_transaction, payment_method, event (plural accepted)."""
        return self._control("GET", f"/objects/{kind}")["objects"]

    # -- raw /v1 --

    def call(self, method: str, path: str, params: dict | None = None, *, idempotency_key: str | None = None,
             api_key: str | None = "", headers: dict | None = None, timeout: float = 40) -> FakeResponse:
        """A raw /v1 request as stripe-python sends it (form-encoded, `a[b]`, `a[0]`), any status."""
        encoded = urllib.parse.urlencode(form_pairs(params or {}))
        url = self.url + path
        data = None
        if method.upper() == "GET":
            url += f"?{encoded}" if encoded else ""
        else:
            data = encoded.encode()
        req = urllib.request.Request(url, data=data, method=method.upper())
        key = self.secret_key if api_key == "" else api_key
        if key is not None:
            req.add_header("Authorization", f"Bearer {key}")
        if data is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
        if idempotency_key:
            req.add_header("Idempotency-Key", idempotency_key)
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            with _opener.open(req, timeout=timeout) as resp:
                status, resp_headers, raw = resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            status, resp_headers, raw = exc.code, dict(exc.headers), exc.read()
        return FakeResponse(status, resp_headers, json.loads(raw) if raw.strip() else None)


def form_pairs(data, prefix: str = "") -> list[tuple[str, str]]:
    """{'metadata': {'k': 'v'}, 'expand': ['x']} -> [('metadata[k]', 'v'), ('expand[0]', 'x')]."""
    pairs = []
    items = enumerate(data) if isinstance(data, list) else data.items()
    for key, value in items:
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, (dict, list)):
            pairs.extend(form_pairs(value, name))
        elif isinstance(value, bool):
            pairs.append((name, str(value).lower()))
        elif value is not None:
            pairs.append((name, str(value)))
    return pairs
