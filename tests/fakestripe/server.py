"""A recording, Stripe-shaped fake Stripe server for the tests (DESIGN "Stripe boundary", "Tests").

Run it as `python -m tests.fakestripe.server --port N` or `python tests/fakestripe/server.py --port N`;
it binds 127.0.0.1 only and keeps everything in memory. `tests.fakestripe.StripeFake` starts and
drives it.

It behaves like real Stripe (the API version stripe-python pins, 2026-10-28.endive) where the shop's
gateway is concerned, and is deliberately stricter than localstripe:

- the parameters accepted by each endpoint are read from stripe-python's generated params types
  (`stripe.params.PaymentIntentCreateParams`, ...), minus the request options; anything else is
  refused as Stripe does (`parameter_unknown`), nested hashes included;
- objects are deep copies of Stripe's own examples (`../shared/stripe/fixtures3.json`) with the values
  set, so every field real Stripe sends exists with its type; ids stay ids unless `expand[]` asks;
- balance transactions carry a real fee, refunds start `pending`, declines leave a failed charge;
- every create needs an `Idempotency-Key` header (a strictness of the fake), and keys are honoured on
  every POST as Stripe does (replay of the stored answer, `idempotency_error` on other parameters);
- every /v1 request is recorded; faults (a lost answer, a 500, a hang, a 404) can be injected.

Test-only control endpoints live under `/_fake/...` (JSON in and out, no auth). The only third-party
import is `stripe`, for introspecting `stripe.params` and the pinned API version.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import secrets
import socket
import string
import sys
import threading
import time
import traceback
import types
import typing
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import stripe
import stripe._request_options
import stripe.params

API_VERSION = stripe.api_version  # "2026-10-28.endive" for stripe-python 16.1.0
# A copy of ../shared/stripe/fixtures3.json (Stripe's published example objects, from stripe/openapi) kept
# beside the fake, so the tests run wherever the repository is cloned.
DEFAULT_FIXTURES = Path(__file__).resolve().parent / "fixtures3.json"
MAX_HANG_SECONDS = 30.0

_ALNUM = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    """An id as Stripe makes them: a type prefix and random alphanumerics."""
    return f"{prefix}_" + "".join(secrets.choice(_ALNUM) for _ in range(length))


def now() -> int:
    return int(time.time())


# --- money ----------------------------------------------------------------------------------------

ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())
THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())
# (percent, fixed fee in minor units) by settlement currency; see processing_fee().
FEE_SCHEDULE = {"jpy": (Decimal("3.6"), 0)}
DEFAULT_FEE = (Decimal("2.9"), 30)
ZERO_DECIMAL_FEE = (Decimal("2.9"), 0)
THREE_DECIMAL_FEE = (Decimal("2.9"), 300)
DISPUTE_FEE = 1500
# Stripe's minimum charge amounts (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts).
MINIMUM_AMOUNT = {
    "usd": 50, "aed": 200, "aud": 50, "bgn": 100, "brl": 50, "cad": 50, "chf": 50, "czk": 1500,
    "dkk": 250, "eur": 50, "gbp": 30, "hkd": 400, "huf": 17500, "inr": 50, "jpy": 50, "mxn": 1000,
    "myr": 200, "nok": 300, "nzd": 50, "pln": 200, "ron": 200, "sek": 300, "sgd": 50, "thb": 1000,
}
MAXIMUM_AMOUNT = 99999999
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "aud": "A$", "cad": "CA$", "chf": "CHF "}


def exponent(currency: str) -> int:
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def fee_schedule(currency: str) -> tuple[Decimal, int]:
    if currency in FEE_SCHEDULE:
        return FEE_SCHEDULE[currency]
    if currency in ZERO_DECIMAL:
        return ZERO_DECIMAL_FEE
    if currency in THREE_DECIMAL:
        return THREE_DECIMAL_FEE
    return DEFAULT_FEE


def _half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def processing_fee(amount: int, currency: str) -> int:
    """Stripe's card processing fee on `amount` minor units settled in `currency`:
    percent of the amount rounded half-up to a minor unit, plus the fixed part."""
    percent, fixed = fee_schedule(currency)
    return _half_up(Decimal(amount) * percent / 100) + fixed


def convert(amount: int, source: str, target: str, rate: Decimal) -> int:
    """amount (minor units of `source`) * rate, in minor units of `target`, half-up."""
    major = Decimal(amount).scaleb(-exponent(source))
    return _half_up((major * rate).scaleb(exponent(target)))


def format_money(amount: int, currency: str) -> str:
    exp = exponent(currency)
    major = Decimal(amount).scaleb(-exp)
    text = f"{major:,.{exp}f}"
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{text}" if symbol else f"{text} {currency.upper()}"


# --- errors ---------------------------------------------------------------------------------------


class ApiError(Exception):
    """An error answer in Stripe's shape. `saved` says whether an idempotency key stores it: Stripe
    saves the result once the endpoint started executing, not when parameters failed validation."""

    def __init__(self, status: int, type: str, message: str, *, code=None, param=None, saved=True,
                 headers=None, **extra):
        super().__init__(message)
        self.status = status
        self.type = type
        self.message = message
        self.code = code
        self.param = param
        self.saved = saved
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict:
        error: dict = {}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://docs.stripe.com/error-codes/{self.code.replace('_', '-')}"
        error["message"] = self.message
        if self.param:
            error["param"] = self.param
        error.update({k: v for k, v in self.extra.items() if v is not None})
        error["type"] = self.type
        return {"error": error}


def invalid(message: str, *, code=None, param=None, saved=True, **extra) -> ApiError:
    return ApiError(400, "invalid_request_error", message, code=code, param=param, saved=saved, **extra)


def param_error(message: str, *, code=None, param=None) -> ApiError:
    """A parameter that failed validation: never stored under an idempotency key."""
    return invalid(message, code=code, param=param, saved=False)


def no_such(noun: str, object_id: str, param: str, status: int = 404) -> ApiError:
    return ApiError(status, "invalid_request_error", f"No such {noun}: '{object_id}'",
                    code="resource_missing", param=param)


def unrecognized(method: str, path: str) -> ApiError:
    return ApiError(404, "invalid_request_error",
                    f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
                    "or we can help at https://support.stripe.com/.", saved=False)


# --- parameter contract from stripe.params --------------------------------------------------------

REQUEST_OPTION_KEYS = frozenset(stripe.RequestOptions.__annotations__)
_SCALARS = (str, int, bool, float)


def _namespace(cls) -> dict:
    ns = dict(vars(stripe._request_options))
    ns["StripeContext"] = stripe.StripeContext
    ns.update(vars(sys.modules[cls.__module__]))
    return ns


_HINTS: dict = {}


def type_hints(cls) -> dict:
    """Every key of a params TypedDict (inherited ones included) with its resolved type, or Any
    where a forward reference does not resolve."""
    if cls not in _HINTS:
        names: dict = {}
        for klass in reversed(cls.__mro__):
            names.update(getattr(klass, "__annotations__", {}))
        try:
            hints = typing.get_type_hints(cls, globalns=_namespace(cls))
        except Exception:  # pragma: no cover - a future stripe-python with other forward refs
            hints = {}
        _HINTS[cls] = {name: hints.get(name, typing.Any) for name in names}
    return _HINTS[cls]


def _is_typeddict(tp) -> bool:
    """typing.is_typeddict() misses typing_extensions' TypedDict, which stripe-python uses."""
    return isinstance(tp, type) and hasattr(tp, "__required_keys__") and hasattr(tp, "__optional_keys__")


def _shape(tp) -> str:
    if tp is typing.Any:
        return "any"
    origin = typing.get_origin(tp)
    if _is_typeddict(tp):
        return "hash"
    if origin is list:
        return "array"
    if origin is dict:
        return "hash"
    klass = origin or tp
    if isinstance(klass, type) and issubclass(klass, dict):
        return "hash"
    return "scalar"


def _value_shape(value) -> str:
    if isinstance(value, dict):
        return "hash"
    if isinstance(value, list):
        return "array"
    return "scalar"


def coerce(value, tp, name: str):
    """Check a decoded form value against a stripe.params type; return it with ints and booleans
    converted. Raises the ApiError Stripe would answer."""
    if tp is typing.Any:
        return value
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        args = typing.get_args(tp)
        shape = _value_shape(value)
        fitting = [a for a in args if _shape(a) in (shape, "any")
                   or (shape == "array" and _shape(a) == "hash")]
        if not fitting:
            raise _shape_error(value, _shape(args[0]), name)
        first_error = None
        for arg in fitting:
            try:
                return coerce(value, arg, name)
            except ApiError as exc:
                first_error = first_error or exc
        raise first_error
    if origin is typing.Literal:
        allowed = typing.get_args(tp)
        for option in allowed:
            if isinstance(option, bool):
                if value == str(option).lower():
                    return option
            elif value == str(option):
                return option
        if len(allowed) == 1 and allowed[0] == "":
            raise param_error(f"Invalid {name}: must be an empty string", param=name)
        choices = [str(a) for a in allowed]
        listed = " or ".join(choices) if len(choices) < 3 else ", ".join(choices[:-1]) + f", or {choices[-1]}"
        raise param_error(f"Invalid {name}: must be one of {listed}", param=name)
    shape = _shape(tp)
    if shape == "scalar":
        if not isinstance(value, str):
            raise _shape_error(value, "scalar", name)
        if value == "" and tp in (int, bool, float):
            raise param_error(
                f"You passed an empty string for '{name}'. We assume empty values are an attempt to unset a "
                f"parameter; however '{name}' cannot be unset. You should remove '{name}' from your request "
                "or supply a non-empty value.", code="parameter_invalid_empty", param=name)
        if tp is int:
            if not re.fullmatch(r"-?\d+", value):
                raise param_error(f"Invalid integer: {value}", code="parameter_invalid_integer", param=name)
            return int(value)
        if tp is bool:
            if value not in ("true", "false"):
                raise param_error(f"Invalid boolean: {value}", param=name)
            return value == "true"
        if tp is float:
            try:
                Decimal(value)
            except InvalidOperation:
                raise param_error(f"Invalid decimal: {value}", param=name) from None
            return value
        return value
    if shape == "array":
        if isinstance(value, dict) and not value:
            value = []
        if not isinstance(value, list):
            raise _shape_error(value, "array", name)
        (item_type,) = typing.get_args(tp) or (typing.Any,)
        return [coerce(item, item_type, f"{name}[{i}]") for i, item in enumerate(value)]
    # a hash
    if isinstance(value, list):
        value = {str(i): item for i, item in enumerate(value)}
    if not isinstance(value, dict):
        raise _shape_error(value, "hash", name)
    if _is_typeddict(tp):
        return validate_hash(value, tp, prefix=name)
    for key, item in value.items():
        if not isinstance(item, str):
            raise param_error(f"Invalid value for {name}[{key}]: must be a string", param=f"{name}[{key}]")
    return dict(value)


def _shape_error(value, expected: str, name: str) -> ApiError:
    if expected == "hash":
        return param_error("Invalid object", param=name)
    if expected == "array":
        return param_error("Invalid array", param=name)
    return param_error(f"Invalid string: {_ruby_like(value)}", param=name)


def _ruby_like(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f'"{k}"=>{_ruby_like(v)}' for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_ruby_like(v) for v in value) + "]"
    return f'"{value}"'


def validate_hash(params: dict, cls, *, prefix: str = "", extra_refusals=None) -> dict:
    """Check `params` against the TypedDict `cls`: unknown keys refused, required keys present,
    values of the declared types. Returns the coerced values."""
    hints = {k: v for k, v in type_hints(cls).items() if k not in REQUEST_OPTION_KEYS or prefix}
    out = {}
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else key
        if key not in hints:
            if extra_refusals and key in extra_refusals:
                raise extra_refusals[key]
            raise param_error(f"Received unknown parameter: {name}", code="parameter_unknown", param=name)
        out[key] = coerce(value, hints[key], name)
    required = set(getattr(cls, "__required_keys__", ())) - (set() if prefix else REQUEST_OPTION_KEYS)
    for key in sorted(required):
        if key not in params:
            name = f"{prefix}[{key}]" if prefix else key
            raise param_error(f"Missing required param: {name}.", code="parameter_missing", param=name)
    return out


# --- form decoding --------------------------------------------------------------------------------

_NAME = re.compile(r"^([^\[\]]*)((?:\[[^\[\]]*\])*)$")


def decode_form(pairs) -> dict:
    """[('metadata[k]', 'v'), ('expand[0]', 'x')] -> {'metadata': {'k': 'v'}, 'expand': ['x']}:
    Stripe's form encoding (`a[]` appends). Hashes whose keys are 0..n-1 become lists."""
    root: dict = {}
    for key, value in pairs:
        match = _NAME.match(key)
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))] if match else [key]
        node = root
        for part in parts[:-1]:
            if part == "":
                part = str(len(node))
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        last = parts[-1]
        if last == "":
            last = str(len(node))
        node[last] = value
    return _listify(root)


def _listify(node):
    if not isinstance(node, dict):
        return node
    node = {k: _listify(v) for k, v in node.items()}
    if node and sorted(node) == sorted(str(i) for i in range(len(node))) and all(k.isdigit() for k in node):
        return [node[str(i)] for i in range(len(node))]
    return node


def expand_tree(paths) -> dict:
    tree: dict = {}
    for path in paths or []:
        node = tree
        for part in path.split("."):
            node = node.setdefault(part, {})
    return tree


# --- routes ---------------------------------------------------------------------------------------


class Route:
    def __init__(self, method, pattern, handler, params, *, kind, create=False, listing=False):
        self.method = method
        self.regex = re.compile(f"^{pattern}$")
        self.handler = handler
        self.params_class = getattr(stripe.params, params)
        self.kind = kind
        self.create = create
        self.listing = listing


_ID = r"(?P<id>[^/]+)"
ROUTES = [
    Route("POST", "/v1/payment_intents", "pi_create", "PaymentIntentCreateParams",
          kind="payment_intent", create=True),
    Route("GET", "/v1/payment_intents", "pi_list", "PaymentIntentListParams", kind="payment_intent", listing=True),
    Route("POST", f"/v1/payment_intents/{_ID}/confirm", "pi_confirm", "PaymentIntentConfirmParams",
          kind="payment_intent"),
    Route("POST", f"/v1/payment_intents/{_ID}/cancel", "pi_cancel", "PaymentIntentCancelParams",
          kind="payment_intent"),
    Route("POST", f"/v1/payment_intents/{_ID}", "pi_update", "PaymentIntentUpdateParams", kind="payment_intent"),
    Route("GET", f"/v1/payment_intents/{_ID}", "pi_retrieve", "PaymentIntentRetrieveParams", kind="payment_intent"),
    Route("GET", "/v1/charges", "charge_list", "ChargeListParams", kind="charge", listing=True),
    Route("GET", f"/v1/charges/{_ID}", "charge_retrieve", "ChargeRetrieveParams", kind="charge"),
    Route("POST", "/v1/refunds", "refund_create", "RefundCreateParams", kind="refund", create=True),
    Route("GET", "/v1/refunds", "refund_list", "RefundListParams", kind="refund", listing=True),
    Route("GET", f"/v1/refunds/{_ID}", "refund_retrieve", "RefundRetrieveParams", kind="refund"),
    Route("GET", f"/v1/disputes/{_ID}", "dispute_retrieve", "DisputeRetrieveParams", kind="dispute"),
    Route("GET", f"/v1/balance_transactions/{_ID}", "bt_retrieve", "BalanceTransactionRetrieveParams",
          kind="balance_transaction"),
]

# The path parameter names stripe-python uses, which Stripe names in a resource_missing error.
ID_PARAM = {"payment_intent": "intent", "charge": "charge", "refund": "refund", "dispute": "dispute",
            "balance_transaction": "id"}
NOUN = {"payment_intent": "payment_intent", "charge": "charge", "refund": "refund", "dispute": "dispute",
        "balance_transaction": "balance_transaction", "payment_method": "PaymentMethod"}
PREFIX_KIND = {"pi": "payment_intent", "ch": "charge", "re": "refund", "dp": "dispute",
               "txn": "balance_transaction", "pm": "payment_method", "evt": "event"}
KIND_ALIASES = {
    "payment_intent": "payment_intent", "payment_intents": "payment_intent", "charge": "charge",
    "charges": "charge", "refund": "refund", "refunds": "refund", "dispute": "dispute", "disputes": "dispute",
    "balance_transaction": "balance_transaction", "balance_transactions": "balance_transaction",
    "payment_method": "payment_method", "payment_methods": "payment_method", "event": "event", "events": "event",
}

# Expandable fields by object type, and the type each expands to (None: always null here).
EXPANDABLE = {
    "payment_intent": {"latest_charge": "charge", "payment_method": "payment_method", "customer": None,
                       "application": None, "on_behalf_of": None, "review": None},
    "charge": {"balance_transaction": "balance_transaction", "payment_intent": "payment_intent",
               "refunds": "list:refund", "failure_balance_transaction": "balance_transaction", "customer": None,
               "application": None, "application_fee": None, "on_behalf_of": None, "review": None,
               "source_transfer": None, "transfer": None},
    "refund": {"balance_transaction": "balance_transaction", "charge": "charge", "payment_intent": "payment_intent",
               "failure_balance_transaction": "balance_transaction", "source_transfer_reversal": None,
               "transfer_reversal": None},
    "dispute": {"charge": "charge", "payment_intent": "payment_intent"},
    "balance_transaction": {"source": "*"},
    "payment_method": {"customer": None},
}

PI_CANCELABLE = ("requires_payment_method", "requires_capture", "requires_confirmation", "requires_action",
                 "processing")
PI_UPDATABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
PI_UPDATABLE_WHEN_DONE = {"metadata", "description", "receipt_email", "expand"}
REFUND_TRANSITIONS = {"pending": {"succeeded", "failed", "canceled"}, "succeeded": {"failed"},
                      "requires_action": {"succeeded", "failed", "canceled"}}
DISPUTE_STATUSES = ("warning_needs_response", "warning_under_review", "warning_closed", "needs_response",
                    "under_review", "won", "lost", "prevented")
FAULT_KINDS = ("lose_answer", "error_before", "hang", "not_found")


class TestCard:
    def __init__(self, brand, last4, outcome, decline_code=None, message=None, seller_message=None):
        self.brand = brand
        self.last4 = last4
        self.outcome = outcome  # "succeed", "decline", "3ds"
        self.decline_code = decline_code
        self.message = message
        self.seller_message = seller_message


TEST_CARDS = {
    "pm_card_visa": TestCard("visa", "4242", "succeed"),
    "pm_card_mastercard": TestCard("mastercard", "4444", "succeed"),
    "pm_card_chargeDeclined": TestCard(
        "visa", "0002", "decline", "generic_decline", "Your card was declined.",
        "The bank did not return any further details with this decline."),
    "pm_card_chargeDeclinedInsufficientFunds": TestCard(
        "visa", "9995", "decline", "insufficient_funds", "Your card has insufficient funds.",
        "The bank returned the decline code `insufficient_funds`."),
    "pm_card_threeDSecure2Required": TestCard("visa", "3220", "3ds"),
}


class Context:
    """The request an operation runs for, named in the events it causes."""

    def __init__(self, request_id=None, idempotency_key=None):
        self.request_id = request_id
        self.idempotency_key = idempotency_key


CONTROL = Context()


class Answer:
    def __init__(self, status, body, headers=None, lose=False):
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.lose = lose


# --- the state ------------------------------------------------------------------------------------


class State:
    def __init__(self, fixtures: dict):
        self.fixtures = fixtures["resources"]
        self.lock = threading.RLock()
        self.flush()

    def flush(self):
        with self.lock:
            self.objects: dict[str, dict] = {}  # id -> object (unexpanded, as the API renders it)
            self.ids: dict[str, list[str]] = {}  # kind -> ids, oldest first
            self.last_request: dict[str, dict] = {}  # id -> {"id": req_..., "idempotency_key": ...}
            self.pm_card: dict[str, str] = {}  # pm id -> test card name
            self.pm_used: set[str] = set()
            self.dispute_bts: dict[str, list[str]] = {}
            self.dispute_withdrawn: dict[str, bool] = {}
            self.dispute_reinstated: dict[str, bool] = {}
            self.idempotency: dict[str, dict] = {}
            self.requests: list[dict] = []
            self.faults: list[dict] = []
            self.settlement: tuple[str, Decimal] | None = None

    # -- storage --

    def fixture(self, kind: str) -> dict:
        return copy.deepcopy(self.fixtures[kind])

    def store(self, obj: dict, ctx: Context) -> dict:
        kind = obj["object"]
        if obj["id"] not in self.objects:
            self.ids.setdefault(kind, []).append(obj["id"])
        self.objects[obj["id"]] = obj
        self.touch(obj, ctx)
        return obj

    def touch(self, obj: dict, ctx: Context):
        self.last_request[obj["id"]] = {"id": ctx.request_id, "idempotency_key": ctx.idempotency_key}

    def get(self, kind: str, object_id, param: str, status: int = 404) -> dict:
        obj = self.objects.get(object_id) if isinstance(object_id, str) else None
        if obj is None or obj["object"] != kind:
            raise no_such(NOUN[kind], str(object_id), param, status)
        return obj

    def all(self, kind: str) -> list[dict]:
        return [self.objects[i] for i in self.ids.get(kind, [])]

    # -- rendering --

    def render(self, obj: dict, tree: dict | None = None) -> dict:
        out = copy.deepcopy(obj)
        if out["object"] == "dispute":
            out["balance_transactions"] = [copy.deepcopy(self.objects[t]) for t in self.dispute_bts[out["id"]]]
        for key, sub in (tree or {}).items():
            if out["object"] == "charge" and key == "refunds":
                refunds = [r for r in reversed(self.all("refund")) if r["charge"] == out["id"]]
                out["refunds"] = self.list_object(refunds, f"/v1/charges/{out['id']}/refunds", sub, False)
                continue
            value = out.get(key)
            if isinstance(value, str) and value in self.objects:
                out[key] = self.render(self.objects[value], sub)
        return out

    def list_object(self, items, url, tree, has_more) -> dict:
        sub = (tree or {}).get("data", {})
        return {"object": "list", "data": [self.render(i, sub) for i in items], "has_more": has_more, "url": url}

    # -- balance transactions --

    def balance_transaction(self, amount, currency, *, type, source, reporting_category, ctx,
                            fee=None, fee_description=None, description=None) -> dict:
        """A balance transaction for `amount` minor units of `currency`, settled in the settlement
        currency if one is set. `fee`: "processing" (the card fee on the settled amount) or an int."""
        rate = None
        settled_currency = currency
        settled = amount
        if self.settlement and self.settlement[0] != currency:
            settled_currency, rate = self.settlement
            settled = convert(amount, currency, settled_currency, rate)
        if fee == "processing":
            fee = processing_fee(settled, settled_currency)
            fee_description = "Stripe processing fees"
        fee = fee or 0
        bt = self.fixture("balance_transaction")
        created = now()
        bt.update(
            id=new_id("txn"), amount=settled, available_on=created + 2 * 86400, balance_type="payments",
            created=created, currency=settled_currency, description=description,
            exchange_rate=float(rate) if rate is not None else None, fee=fee,
            fee_details=[{"amount": fee, "application": None, "currency": settled_currency,
                          "description": fee_description, "type": "stripe_fee"}] if fee else [],
            net=settled - fee, reporting_category=reporting_category, source=source, status="pending", type=type,
        )
        return self.store(bt, ctx)

    # -- payment methods --

    def attach_payment_method(self, pm_param: str, param: str = "payment_method") -> str:
        """Stripe clones a test PaymentMethod (pm_card_visa) into a new one for each use."""
        if pm_param in TEST_CARDS:
            card = TEST_CARDS[pm_param]
            pm = self.fixture("payment_method")
            pm_id = new_id("pm")
            pm.update(
                id=pm_id, created=now(), customer=None, customer_account=None, livemode=False, metadata={},
                billing_details={"address": {k: None for k in ("city", "country", "line1", "line2",
                                                                "postal_code", "state")},
                                 "email": None, "name": None, "phone": None, "tax_id": None},
            )
            pm["card"].update(brand=card.brand, display_brand=card.brand, last4=card.last4,
                              fingerprint=new_id("fp", 16)[3:], wallet=None,
                              networks={"available": [card.brand], "preferred": None})
            pm["card"]["generated_from"] = None
            self.store(pm, CONTROL)
            self.pm_card[pm_id] = pm_param
            return pm_id
        if pm_param in self.pm_card:
            if pm_param in self.pm_used:
                raise invalid(
                    "The provided PaymentMethod was previously used with a PaymentIntent without Customer "
                    "attachment, shared with a connected account without Customer attachment, or was detached "
                    "from a Customer. It may not be used again. To use a PaymentMethod multiple times, you must "
                    "attach it to a Customer first.", param=param)
            return pm_param
        raise invalid(f"No such PaymentMethod: '{pm_param}'", code="resource_missing", param=param)

    # -- payment intents --

    def check_amount(self, amount: int, currency: str):
        if amount < 1:
            raise invalid("This value must be greater than or equal to 1.", code="parameter_invalid_integer",
                          param="amount")
        minimum = MINIMUM_AMOUNT.get(currency)
        if minimum and amount < minimum:
            raise invalid(f"Amount must be at least {format_money(minimum, currency)} {currency}",
                          code="amount_too_small", param="amount")
        if amount > MAXIMUM_AMOUNT:
            raise invalid(f"Amount must be no more than {format_money(MAXIMUM_AMOUNT, currency)}",
                          code="amount_too_large", param="amount")

    @staticmethod
    def check_currency(currency: str) -> str:
        currency = currency.lower()
        if not re.fullmatch(r"[a-z]{3}", currency):
            raise invalid(f"Invalid currency: {currency}.", param="currency", saved=False)
        return currency

    def pi_create(self, p, ctx, **_):
        if p.get("capture_method") == "manual":
            raise invalid("fakestripe does not model manual capture (capture_method=manual).",
                          code="fakestripe_unsupported", param="capture_method", saved=False)
        currency = self.check_currency(p["currency"])
        self.check_amount(p["amount"], currency)
        allowed = p.get("allowed_payment_method_types")
        pi = self.fixture("payment_intent")
        pi_id = new_id("pi")
        pi.update(
            id=pi_id, amount=p["amount"], amount_capturable=0, amount_details={"tip": {}}, amount_received=0,
            application=None, application_fee_amount=p.get("application_fee_amount"),
            automatic_payment_methods=None if allowed else {"enabled": True},
            canceled_at=None, cancellation_reason=None,
            capture_method=p.get("capture_method", "automatic_async"),
            client_secret=f"{pi_id}_secret_{new_id('x', 25)[2:]}",
            confirmation_method=p.get("confirmation_method", "automatic"), created=now(), currency=currency,
            customer=p.get("customer"), customer_account=p.get("customer_account"),
            description=p.get("description"),
            excluded_payment_method_types=p.get("excluded_payment_method_types") or None,
            last_payment_error=None, latest_charge=None, livemode=False, managed_payments={"enabled": False},
            metadata=_merge_metadata({}, p.get("metadata")), next_action=None, on_behalf_of=None,
            payment_method=None,
            payment_method_configuration_details=None if allowed else {"id": new_id("pmc"), "parent": None},
            payment_method_options={}, payment_method_types=list(allowed or ["card"]), processing=None,
            receipt_email=p.get("receipt_email") or None, review=None,
            setup_future_usage=p.get("setup_future_usage"), shipping=p.get("shipping") or None, source=None,
            statement_descriptor=p.get("statement_descriptor"),
            statement_descriptor_suffix=p.get("statement_descriptor_suffix"), status="requires_payment_method",
            transfer_data=None, transfer_group=p.get("transfer_group"),
        )
        if p.get("payment_method"):
            pi["payment_method"] = self.attach_payment_method(p["payment_method"])
            pi["status"] = "requires_confirmation"
        self.store(pi, ctx)
        if p.get("confirm"):
            self.confirm(pi, p, ctx)
        return pi

    def pi_retrieve(self, p, ctx, id):
        return self.get("payment_intent", id, "intent")

    def pi_list(self, p, ctx, **_):
        return self.paginate(self.all("payment_intent"), p, "/v1/payment_intents")

    def pi_update(self, p, ctx, id):
        pi = self.get("payment_intent", id, "intent")
        if pi["status"] not in PI_UPDATABLE:
            for key in p:
                if key not in PI_UPDATABLE_WHEN_DONE:
                    raise invalid(
                        f"This PaymentIntent's {key} could not be updated because it has a status of "
                        f"{pi['status']}. You may only update the {key} of a PaymentIntent with one of the "
                        f"following statuses: {', '.join(PI_UPDATABLE)}.",
                        code="payment_intent_unexpected_state", param=key, payment_intent=self.render(pi))
        if "currency" in p:
            pi["currency"] = self.check_currency(p["currency"])
        if "amount" in p:
            self.check_amount(p["amount"], pi["currency"])
            pi["amount"] = p["amount"]
        if "metadata" in p:
            pi["metadata"] = _merge_metadata(pi["metadata"], p["metadata"])
        if "receipt_email" in p:
            pi["receipt_email"] = p["receipt_email"] or None
        if "shipping" in p:
            pi["shipping"] = p["shipping"] or None
        if "allowed_payment_method_types" in p:
            pi["payment_method_types"] = list(p["allowed_payment_method_types"])
            pi["automatic_payment_methods"] = None
            pi["payment_method_configuration_details"] = None
        for key in ("description", "statement_descriptor", "statement_descriptor_suffix", "setup_future_usage",
                    "transfer_group", "customer", "customer_account", "capture_method",
                    "excluded_payment_method_types"):
            if key in p:
                pi[key] = p[key] if p[key] != "" else None
        if p.get("payment_method"):
            pi["payment_method"] = self.attach_payment_method(p["payment_method"])
            pi["status"] = "requires_confirmation"
            pi["next_action"] = None
        self.touch(pi, ctx)
        return pi

    def pi_confirm(self, p, ctx, id):
        pi = self.get("payment_intent", id, "intent")
        self.confirm(pi, p, ctx)
        return pi

    def confirm(self, pi: dict, p: dict, ctx: Context):
        status = pi["status"]
        if status == "succeeded":
            raise invalid("You cannot confirm this PaymentIntent because it has already succeeded after being "
                          "previously confirmed.", code="payment_intent_unexpected_state",
                          payment_intent=self.render(pi))
        if status not in PI_UPDATABLE:
            raise invalid(f"You cannot confirm this PaymentIntent because it has a status of {status}. Only a "
                          f"PaymentIntent with one of the following statuses may be confirmed: "
                          f"{', '.join(PI_UPDATABLE)}.", code="payment_intent_unexpected_state",
                          payment_intent=self.render(pi))
        if p.get("payment_method"):
            pi["payment_method"] = self.attach_payment_method(p["payment_method"])
        if not pi["payment_method"]:
            raise invalid("You cannot confirm this PaymentIntent because it's missing a payment method. You can "
                          "either update the PaymentIntent with a payment method and then confirm it again, or "
                          "confirm it again directly with a payment method or ConfirmationToken.",
                          code="payment_intent_unexpected_state", payment_intent=self.render(pi))
        if "receipt_email" in p:
            pi["receipt_email"] = p["receipt_email"] or None
        if "shipping" in p:
            pi["shipping"] = p["shipping"] or None
        self.touch(pi, ctx)
        card = TEST_CARDS[self.pm_card[pi["payment_method"]]]
        if card.outcome == "3ds":
            if p.get("error_on_requires_action") or p.get("off_session"):
                self.decline(pi, card, ctx, code="authentication_required", decline_code="authentication_required",
                             message="Your card was declined. This transaction requires authentication.")
            pi.update(status="requires_action", last_payment_error=None, next_action={
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": f"{pi['id']}/3ds",
                                   "source": new_id("src")},
            })
            return
        if card.outcome == "decline":
            self.decline(pi, card, ctx)
        self.succeed(pi, ctx)

    def new_charge(self, pi: dict, card: TestCard, ctx: Context, *, succeeded: bool, failure=None) -> dict:
        ch = self.fixture("charge")
        ch_id = new_id("ch")
        amount = pi["amount"]
        details = ch["payment_method_details"]["card"]
        details.update(amount_authorized=amount if succeeded else None, brand=card.brand, last4=card.last4,
                       network=card.brand, fingerprint=self.objects[pi["payment_method"]]["card"]["fingerprint"],
                       installments=None, wallet=None,
                       three_d_secure=({"authentication_flow": "challenge", "electronic_commerce_indicator": "05",
                                        "exemption_indicator": None, "result": "authenticated",
                                        "result_reason": None, "transaction_id": new_id("tds", 16)[4:],
                                        "version": "2.2.0"} if card.outcome == "3ds" else None))
        details["overcapture"] = {"maximum_amount_capturable": amount, "status": "unavailable"}
        if succeeded:
            outcome = {"advice_code": None, "network_advice_code": None, "network_decline_code": None,
                       "network_status": "approved_by_network", "reason": None,
                       "seller_message": "Payment complete.", "type": "authorized"}
        else:
            outcome = {"advice_code": "try_again_later" if failure["decline_code"] == "generic_decline" else None,
                       "network_advice_code": None, "network_decline_code": None,
                       "network_status": "declined_by_network", "reason": failure["decline_code"],
                       "seller_message": card.seller_message or "The bank declined the payment.",
                       "type": "issuer_declined"}
        ch.update(
            id=ch_id, amount=amount, amount_captured=amount if succeeded else 0, amount_refunded=0,
            application=None, application_fee=None, application_fee_amount=None, balance_transaction=None,
            billing_details={"address": {k: None for k in ("city", "country", "line1", "line2", "postal_code",
                                                            "state")},
                             "email": None, "name": None, "phone": None, "tax_id": None},
            calculated_statement_descriptor=(pi.get("statement_descriptor") or "FAKESTRIPE SHOP")[:22],
            captured=succeeded, created=now(), currency=pi["currency"], customer=pi["customer"],
            description=pi["description"], disputed=False, failure_balance_transaction=None,
            failure_code=None if succeeded else failure["code"],
            failure_message=None if succeeded else failure["message"], fraud_details={}, livemode=False,
            metadata=dict(pi["metadata"]), on_behalf_of=None, outcome=outcome, paid=succeeded,
            payment_intent=pi["id"], payment_method=pi["payment_method"], receipt_email=pi["receipt_email"],
            receipt_number=None, receipt_url=f"https://pay.stripe.com/receipts/payment/{new_id('x', 40)[2:]}",
            refunded=False, review=None, shipping=pi["shipping"], source=None, source_transfer=None,
            statement_descriptor=pi["statement_descriptor"],
            statement_descriptor_suffix=pi["statement_descriptor_suffix"],
            status="succeeded" if succeeded else "failed", transfer_data=None, transfer_group=pi["transfer_group"],
        )
        ch.pop("refunds", None)  # since API 2022-11-15 only present when expanded
        self.store(ch, ctx)
        if succeeded:
            bt = self.balance_transaction(amount, pi["currency"], type="charge", source=ch_id,
                                          reporting_category="charge", fee="processing", ctx=ctx,
                                          description=pi["description"])
            ch["balance_transaction"] = bt["id"]
        return ch

    def succeed(self, pi: dict, ctx: Context):
        card = TEST_CARDS[self.pm_card[pi["payment_method"]]]
        ch = self.new_charge(pi, card, ctx, succeeded=True)
        self.pm_used.add(pi["payment_method"])
        pi.update(status="succeeded", amount_received=pi["amount"], latest_charge=ch["id"],
                  last_payment_error=None, next_action=None)
        self.touch(pi, ctx)

    def decline(self, pi: dict, card: TestCard, ctx: Context, *, code="card_declined", decline_code=None,
                message=None):
        """The payment fails: a failed charge, the intent back to requires_payment_method (it can be
        confirmed again with another payment method), and a 402 card_error naming the intent."""
        failure = {"code": code, "decline_code": decline_code or card.decline_code,
                   "message": message or card.message}
        ch = self.new_charge(pi, card, ctx, succeeded=False, failure=failure)
        pm = self.render(self.objects[pi["payment_method"]])
        error = {
            "charge": ch["id"], "code": code, "decline_code": failure["decline_code"],
            "doc_url": f"https://docs.stripe.com/error-codes/{code.replace('_', '-')}",
            "message": failure["message"], "payment_method": pm, "type": "card_error",
        }
        pi.update(status="requires_payment_method", last_payment_error=error, latest_charge=ch["id"],
                  payment_method=None, next_action=None)
        self.touch(pi, ctx)
        raise ApiError(402, "card_error", failure["message"], code=code, decline_code=failure["decline_code"],
                       charge=ch["id"], payment_intent=self.render(pi), payment_method=pm)

    def pi_cancel(self, p, ctx, id):
        pi = self.get("payment_intent", id, "intent")
        if pi["status"] not in PI_CANCELABLE:
            raise invalid(f"You cannot cancel this PaymentIntent because it has a status of {pi['status']}. "
                          f"Only a PaymentIntent with one of the following statuses may be canceled: "
                          f"{', '.join(PI_CANCELABLE)}.", code="payment_intent_unexpected_state",
                          payment_intent=self.render(pi))
        pi.update(status="canceled", canceled_at=now(), cancellation_reason=p.get("cancellation_reason"),
                  next_action=None)
        self.touch(pi, ctx)
        return pi

    def complete_3ds(self, pi_id: str, success: bool, ctx: Context) -> dict:
        pi = self.get("payment_intent", pi_id, "intent")
        if pi["status"] != "requires_action":
            raise invalid(f"You cannot complete authentication for this PaymentIntent because it has a status of "
                          f"{pi['status']}. Only a PaymentIntent with status requires_action can be authenticated.",
                          code="payment_intent_unexpected_state", payment_intent=self.render(pi))
        if success:
            self.succeed(pi, ctx)
            return pi
        pm = self.render(self.objects[pi["payment_method"]])
        pi.update(status="requires_payment_method", payment_method=None, next_action=None, last_payment_error={
            "code": "payment_intent_authentication_failure",
            "doc_url": "https://docs.stripe.com/error-codes/payment-intent-authentication-failure",
            "message": "The provided PaymentMethod has failed authentication. You can provide payment_method_data "
                       "or a new PaymentMethod to attempt to fulfill this PaymentIntent again.",
            "payment_method": pm, "type": "invalid_request_error",
        })
        self.touch(pi, ctx)
        return pi

    # -- charges --

    def charge_retrieve(self, p, ctx, id):
        return self.get("charge", id, "charge")

    def charge_list(self, p, ctx, **_):
        charges = self.all("charge")
        if "payment_intent" in p:
            charges = [c for c in charges if c["payment_intent"] == p["payment_intent"]]
        return self.paginate(charges, p, "/v1/charges")

    # -- refunds --

    def refund_create(self, p, ctx, **_):
        if "charge" in p and "payment_intent" in p:
            raise param_error("You cannot specify both charge and payment_intent.", param="payment_intent")
        if "charge" in p:
            charge = self.get("charge", p["charge"], "charge")
        elif "payment_intent" in p:
            pi = self.get("payment_intent", p["payment_intent"], "payment_intent")
            if pi["status"] != "succeeded":
                raise invalid("This PaymentIntent does not have a successful charge to refund.",
                              param="payment_intent")
            charge = self.objects[pi["latest_charge"]]
        else:
            raise param_error("One of the following params should be provided for this request: payment_intent "
                              "or charge.", code="parameter_missing", param="charge")
        return self.refund(charge, p.get("amount"), ctx, metadata=_merge_metadata({}, p.get("metadata")),
                           reason=p.get("reason"))

    def refund(self, charge: dict, amount, ctx: Context, *, metadata=None, reason=None, status="pending") -> dict:
        if charge["status"] != "succeeded":
            raise invalid(f"Charge {charge['id']} has a status of {charge['status']} and cannot be refunded.",
                          param="charge")
        for dispute in self.all("dispute"):
            if dispute["charge"] == charge["id"] and not dispute["is_charge_refundable"]:
                raise invalid(f"Charge {charge['id']} has been charged back; cannot issue a refund.",
                              code="charge_disputed", param="charge")
        remaining = charge["amount"] - charge["amount_refunded"]
        if remaining <= 0:
            raise invalid(f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded",
                          param="charge")
        if amount is None:
            amount = remaining
        if amount < 1:
            raise invalid("This value must be greater than or equal to 1.", code="parameter_invalid_integer",
                          param="amount")
        if amount > remaining:
            currency = charge["currency"]
            if charge["amount_refunded"]:
                message = (f"Refund amount ({format_money(amount, currency)}) is greater than unrefunded amount "
                           f"on charge ({format_money(remaining, currency)})")
            else:
                message = (f"Refund amount ({format_money(amount, currency)}) is greater than charge amount "
                           f"({format_money(charge['amount'], currency)})")
            raise invalid(message, code="amount_too_large", param="amount")
        refund = self.fixture("refund")
        re_id = new_id("re")
        bt = self.balance_transaction(-amount, charge["currency"], type="refund", source=re_id,
                                      reporting_category="refund", ctx=ctx, description="REFUND FOR CHARGE")
        refund.update(
            id=re_id, amount=amount, balance_transaction=bt["id"], charge=charge["id"], created=now(),
            currency=charge["currency"], customer=charge["customer"], customer_account=None,
            metadata=metadata or {}, payment_intent=charge["payment_intent"], reason=reason,
            receipt_number=None, source_transfer_reversal=None, status=status, transfer_reversal=None,
        )
        self.store(refund, ctx)
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        self.touch(charge, ctx)
        return refund

    def refund_retrieve(self, p, ctx, id):
        return self.get("refund", id, "refund")

    def refund_list(self, p, ctx, **_):
        refunds = self.all("refund")
        if "charge" in p:
            refunds = [r for r in refunds if r["charge"] == p["charge"]]
        if "payment_intent" in p:
            refunds = [r for r in refunds if r["payment_intent"] == p["payment_intent"]]
        return self.paginate(refunds, p, "/v1/refunds")

    def set_refund_status(self, refund_id: str, status: str, failure_reason, ctx: Context) -> dict:
        refund = self.get("refund", refund_id, "refund")
        if status not in REFUND_TRANSITIONS.get(refund["status"], ()):
            raise invalid(f"fakestripe: a refund cannot go from {refund['status']} to {status}.", param="status")
        refund["status"] = status
        if status in ("failed", "canceled"):
            charge = self.objects[refund["charge"]]
            charge["amount_refunded"] -= refund["amount"]
            charge["refunded"] = charge["amount_refunded"] == charge["amount"]
            self.touch(charge, ctx)
        if status == "failed":
            refund["failure_reason"] = failure_reason or "unknown"
            bt = self.balance_transaction(refund["amount"], refund["currency"], type="refund_failure",
                                          source=refund["id"], reporting_category="refund_failure", ctx=ctx,
                                          description="REFUND FAILURE")
            refund["failure_balance_transaction"] = bt["id"]
        self.touch(refund, ctx)
        return refund

    # -- disputes and balance transactions --

    def dispute_retrieve(self, p, ctx, id):
        return self.get("dispute", id, "dispute")

    def bt_retrieve(self, p, ctx, id):
        return self.get("balance_transaction", id, "id")

    def create_dispute(self, charge_id, amount, status, currency, funds_withdrawn, ctx) -> dict:
        charge = self.get("charge", charge_id, "charge", 400)
        if status not in DISPUTE_STATUSES:
            raise invalid(f"fakestripe: unknown dispute status {status}", param="status")
        inquiry = status.startswith("warning_")
        dispute = self.fixture("dispute")
        dp_id = new_id("dp")
        created = now()
        card = charge["payment_method_details"]["card"]
        dispute.update(
            id=dp_id, amount=charge["amount"] if amount is None else amount, balance_transactions=[],
            charge=charge["id"], created=created, currency=(currency or charge["currency"]).lower(),
            evidence_details={"due_by": created + 7 * 86400, "enhanced_eligibility": {}, "has_evidence": False,
                              "past_due": False, "submission_count": 0},
            is_charge_refundable=inquiry and not charge["refunded"], livemode=False, metadata={},
            payment_intent=charge["payment_intent"],
            payment_method_details={"card": {"brand": card["brand"], "case_type": "inquiry" if inquiry
                                             else "chargeback", "network": card["network"],
                                             "network_reason_code": "10.4"}, "type": "card"},
            reason="fraudulent", status=status,
        )
        self.dispute_bts[dp_id] = []
        self.dispute_withdrawn[dp_id] = False
        self.dispute_reinstated[dp_id] = False
        self.store(dispute, ctx)
        if funds_withdrawn and not inquiry:
            self.withdraw(dispute, ctx)
        charge["disputed"] = True
        self.touch(charge, ctx)
        return dispute

    def withdraw(self, dispute, ctx):
        bt = self.balance_transaction(-dispute["amount"], dispute["currency"], type="adjustment",
                                      source=dispute["id"], reporting_category="dispute", ctx=ctx,
                                      fee=DISPUTE_FEE, fee_description="Dispute fee",
                                      description=f"Chargeback withdrawal for {dispute['charge']}")
        self.dispute_bts[dispute["id"]].append(bt["id"])
        self.dispute_withdrawn[dispute["id"]] = True

    def update_dispute(self, dispute_id, status, funds_reinstated, ctx) -> dict:
        dispute = self.get("dispute", dispute_id, "dispute", 400)
        if status not in DISPUTE_STATUSES:
            raise invalid(f"fakestripe: unknown dispute status {status}", param="status")
        dispute["status"] = status
        if status.startswith("warning_"):
            dispute["is_charge_refundable"] = not self.objects[dispute["charge"]]["refunded"]
        else:
            dispute["is_charge_refundable"] = False
            dispute["payment_method_details"]["card"]["case_type"] = "chargeback"
        if ((status == "won" or funds_reinstated) and self.dispute_withdrawn[dispute_id]
                and not self.dispute_reinstated[dispute_id]):
            bt = self.balance_transaction(dispute["amount"], dispute["currency"], type="adjustment",
                                          source=dispute_id, reporting_category="dispute_reversal", ctx=ctx,
                                          description=f"Chargeback reversal for {dispute['charge']}")
            self.dispute_bts[dispute_id].append(bt["id"])
            self.dispute_reinstated[dispute_id] = True
        self.touch(dispute, ctx)
        return dispute

    # -- lists --

    def paginate(self, items: list, p: dict, url: str):
        """Stripe's list object: newest first, `limit` (1..100, default 10), `starting_after` /
        `ending_before` cursors, `has_more`."""
        limit = p.get("limit", 10)
        if not 1 <= limit <= 100:
            raise param_error("This value must be less than or equal to 100." if limit > 100 else
                              "This value must be greater than or equal to 1.", code="parameter_invalid_integer",
                              param="limit")
        items = list(reversed(items))
        ids = [i["id"] for i in items]
        if p.get("starting_after"):
            if p["starting_after"] not in ids:
                raise invalid(f"No such object: '{p['starting_after']}'", code="resource_missing",
                              param="starting_after")
            rest = items[ids.index(p["starting_after"]) + 1:]
            page, has_more = rest[:limit], len(rest) > limit
        elif p.get("ending_before"):
            if p["ending_before"] not in ids:
                raise invalid(f"No such object: '{p['ending_before']}'", code="resource_missing",
                              param="ending_before")
            before = items[:ids.index(p["ending_before"])]
            page, has_more = before[-limit:], len(before) > limit
        else:
            page, has_more = items[:limit], len(items) > limit
        return ("list", page, has_more, url)

    # -- events --

    def event(self, type: str, object_id: str, previous_attributes) -> dict:
        kind = PREFIX_KIND.get(object_id.split("_", 1)[0])
        if kind not in ("payment_intent", "charge", "refund", "dispute"):
            raise invalid(f"fakestripe: cannot tell the object type of {object_id!r} (pi_, ch_, re_, dp_)",
                          param="object_id")
        obj = self.get(kind, object_id, "object_id")
        data = {"object": self.render(obj)}
        if previous_attributes is not None:
            data["previous_attributes"] = previous_attributes
        request = self.last_request.get(object_id, {"id": None, "idempotency_key": None})
        event = self.fixture("event")
        event.update(id=new_id("evt"), object="event", api_version=API_VERSION, created=now(), data=data,
                     livemode=False, pending_webhooks=1, request=dict(request), type=type)
        self.store(event, CONTROL)
        return event

    # -- faults --

    def add_fault(self, spec: dict) -> dict:
        kind = spec.get("kind")
        if kind not in FAULT_KINDS:
            raise invalid(f"fakestripe: fault kind must be one of {', '.join(FAULT_KINDS)}", param="kind")
        try:
            regex = re.compile(spec.get("path_regex") or "")
        except re.error as exc:
            raise invalid(f"fakestripe: bad path_regex: {exc}", param="path_regex") from None
        seconds = spec.get("seconds")
        if kind == "hang":
            if seconds is None or not 0 <= float(seconds) <= MAX_HANG_SECONDS:
                raise invalid(f"fakestripe: a hang needs 0 <= seconds <= {MAX_HANG_SECONDS:g}", param="seconds")
            seconds = float(seconds)
        times = spec.get("times", 1)
        if times is not None and int(times) < 1:
            raise invalid("fakestripe: times must be >= 1 (or null for always)", param="times")
        fault = {"id": new_id("fault", 12), "method": (spec.get("method") or "*").upper(),
                 "path_regex": regex.pattern, "kind": kind, "times": times, "seconds": seconds, "hits": 0}
        self.faults.append(fault)
        return dict(fault)

    def take_fault(self, method: str, path: str):
        with self.lock:
            for fault in self.faults:
                if fault["method"] not in ("*", method) or not re.search(fault["path_regex"], path):
                    continue
                if fault["times"] is not None and fault["hits"] >= fault["times"]:
                    continue
                fault["hits"] += 1
                return dict(fault)
        return None

    # -- the /v1 API --

    def api(self, method: str, path: str, query: str, body: bytes, headers) -> Answer:
        request_id = new_id("req", 14)
        idem_key = headers.get("Idempotency-Key")
        entry = {"method": method, "path": path, "params": None, "idempotency_key": idem_key,
                 "stripe_version": headers.get("Stripe-Version"), "status": None, "replayed": False, "fault": None,
                 "request_id": request_id}
        with self.lock:
            self.requests.append(entry)
        base_headers = {"Request-Id": request_id, "Stripe-Version": headers.get("Stripe-Version") or API_VERSION}
        if idem_key:
            base_headers["Idempotency-Key"] = idem_key

        def answer(status, payload, extra=None, lose=False, replayed=False):
            entry["status"] = status
            entry["replayed"] = replayed
            return Answer(status, payload, {**base_headers, **(extra or {})}, lose=lose)

        def error(exc: ApiError, lose=False):
            return answer(exc.status, exc.body(), exc.headers, lose=lose)

        try:
            pairs = parse_qsl(query, keep_blank_values=True)
            if method == "POST":
                pairs += parse_qsl(body.decode("utf-8"), keep_blank_values=True)
            params = decode_form(pairs)
        except (UnicodeDecodeError, ValueError) as exc:
            return error(param_error(f"Invalid request body: {exc}"))
        entry["params"] = params

        auth_error = self.check_auth(headers.get("Authorization"))
        if auth_error:
            return error(auth_error)
        route, match = None, None
        for candidate in ROUTES:
            match = candidate.regex.match(path)
            if match and candidate.method == method:
                route = candidate
                break
        if route is None:
            return error(unrecognized(method, path))
        path_args = match.groupdict()

        fault = self.take_fault(method, path)
        if fault:
            entry["fault"] = fault["kind"]
            if fault["kind"] == "error_before":
                return error(ApiError(500, "api_error", "Sorry, something went wrong. We've already been notified "
                                      "of the problem, but if you need any help, you can reach us at "
                                      "support.stripe.com/contact.", saved=False))
            if fault["kind"] == "not_found":
                object_id = path_args.get("id") or path_args.get("intent") or "unknown"
                return error(no_such(NOUN[route.kind], object_id, ID_PARAM[route.kind]))

        try:
            typed = self.validate(route, params)
        except ApiError as exc:
            return error(exc)

        if method == "POST":
            if route.create and not idem_key:
                return error(param_error(
                    f"fakestripe requires an Idempotency-Key header on POST {path} (real Stripe makes it optional; "
                    "the shop must always send one so a retry can never create a second object).",
                    code="idempotency_key_required"))
            if idem_key:
                if len(idem_key) > 255:
                    return error(param_error("Invalid idempotency key: keys must be no longer than 255 "
                                             "characters."))
                with self.lock:
                    stored = self.idempotency.get(idem_key)
                    if stored is None:
                        self.idempotency[idem_key] = {"method": method, "path": path, "params": params,
                                                      "state": "in_progress", "request_id": request_id}
                if stored is not None:
                    replay = self.replay(stored, idem_key, method, path, params)
                    if isinstance(replay, ApiError):
                        return error(replay)
                    status, payload, original = replay
                    return answer(status, payload, {"Idempotent-Replayed": "true", "Original-Request": original},
                                  lose=bool(fault and fault["kind"] == "lose_answer"), replayed=True)

        if fault and fault["kind"] == "hang":
            time.sleep(min(fault["seconds"] or 0, MAX_HANG_SECONDS))

        saved = True
        ctx = Context(request_id, idem_key if method == "POST" else None)
        try:
            with self.lock:
                result = getattr(self, route.handler)(typed, ctx, **path_args)
                tree = expand_tree(typed.get("expand"))
                if isinstance(result, tuple):
                    _, page, has_more, url = result
                    status, payload = 200, self.list_object(page, url, tree, has_more)
                else:
                    status, payload = 200, self.render(result, tree)
        except ApiError as exc:
            status, payload, saved = exc.status, exc.body(), exc.saved
        except Exception:  # a bug in the fake answers as Stripe's 500 does, with the traceback
            traceback.print_exc()
            status, payload = 500, ApiError(500, "api_error", "fakestripe crashed: "
                                            + traceback.format_exc(limit=3)).body()
        if method == "POST" and idem_key:
            with self.lock:
                if saved:
                    self.idempotency[idem_key] = {"method": method, "path": path, "params": params, "state": "done",
                                                  "status": status, "body": payload, "request_id": request_id}
                elif self.idempotency.get(idem_key, {}).get("request_id") == request_id:
                    del self.idempotency[idem_key]
        return answer(status, payload, lose=bool(fault and fault["kind"] == "lose_answer"))

    @staticmethod
    def replay(stored, key, method, path, params):
        if stored["state"] == "in_progress":
            return ApiError(409, "invalid_request_error",
                            "There is currently another in-progress request using this Idempotent Key (that "
                            "probably means you submitted twice, and the other request is still going through): "
                            f"{key}. Please try again later.", code="idempotency_key_in_use", saved=False)
        if stored["method"] != method or stored["path"] != path:
            return ApiError(400, "idempotency_error",
                            f"Keys for idempotent requests can only be used for the same endpoint they were first "
                            f"used for ('{stored['method']} {stored['path']}' vs '{method} {path}'). Try using a key "
                            f"other than '{key}' if you meant to execute a different request.", saved=False)
        if stored["params"] != params:
            return ApiError(400, "idempotency_error",
                            "Keys for idempotent requests can only be used with the same parameters they were "
                            f"first used with. Try using a key other than '{key}' if you meant to execute a "
                            "different request.", saved=False)
        return stored["status"], stored["body"], stored["request_id"]

    def validate(self, route: Route, params: dict) -> dict:
        refusals = {}
        if route.kind == "payment_intent" and route.method == "POST":
            refusals["payment_method_types"] = param_error(
                f"The parameter payment_method_types is no longer supported on API version {API_VERSION}. "
                "Use allowed_payment_method_types instead.",
                code="payment_method_types_no_longer_supported", param="payment_method_types")
        typed = validate_hash(params, route.params_class, extra_refusals=refusals)
        if isinstance(typed.get("metadata"), dict):
            check_metadata(typed["metadata"])
        tree = expand_tree(typed.get("expand"))
        if route.listing:
            extra = [k for k in tree if k != "data"]
            if extra:
                raise param_error(f"This property cannot be expanded ({extra[0]}). You may want to try expanding "
                                  f"'data.{extra[0]}' instead.", param="expand")
            self.check_expand(route.kind, tree.get("data", {}), "data.")
        else:
            self.check_expand(route.kind, tree, "")
        return typed

    def check_expand(self, kind, tree, prefix):
        fields = EXPANDABLE.get(kind)
        if fields is None:
            return
        for key, sub in tree.items():
            if key not in fields:
                raise param_error(f"This property cannot be expanded ({prefix}{key}).", param="expand")
            target = fields[key]
            if target and target.startswith("list:"):
                extra = [k for k in sub if k != "data"]
                if extra:
                    raise param_error(f"This property cannot be expanded ({prefix}{key}.{extra[0]}).",
                                      param="expand")
                self.check_expand(target[5:], sub.get("data", {}), f"{prefix}{key}.data.")
            elif target and target != "*":
                self.check_expand(target, sub, f"{prefix}{key}.")

    @staticmethod
    def check_auth(header) -> ApiError | None:
        if not header or not header.startswith("Bearer ") or not header[7:].strip():
            return ApiError(401, "invalid_request_error",
                            "You did not provide an API key. You need to provide your API key in the Authorization "
                            "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
                            "https://stripe.com/docs/api#authentication for details, or we can help at "
                            "https://support.stripe.com/.", saved=False)
        key = header[7:].strip()
        if key.startswith("pk_"):
            return ApiError(401, "invalid_request_error",
                            "This API call cannot be made with a publishable API key. Please use a secret API key. "
                            "You can find a list of your API keys at https://dashboard.stripe.com/account/apikeys.",
                            saved=False)
        if not re.fullmatch(r"sk_test_\w+", key):
            masked = key[:8] + "*" * max(len(key) - 12, 4) + key[-4:]
            return ApiError(401, "invalid_request_error", f"Invalid API Key provided: {masked}", saved=False)
        return None

    # -- control endpoints (/_fake/...) --

    def control(self, method: str, path: str, body: bytes) -> Answer:
        try:
            data = json.loads(body) if body.strip() else {}
            if not isinstance(data, dict):
                raise ValueError("a JSON object is expected")
        except ValueError as exc:
            return Answer(400, invalid(f"fakestripe: invalid JSON: {exc}").body())
        ctx = Context(new_id("req", 14) if path.endswith(("/confirm_as_browser", "/refunds")) else None)
        try:
            with self.lock:
                payload = self.dispatch_control(method, path, data, ctx)
        except ApiError as exc:
            return Answer(exc.status, exc.body())
        except (KeyError, TypeError, ValueError) as exc:
            return Answer(400, invalid(f"fakestripe: bad control request: {exc!r}").body())
        return Answer(200, payload)

    def dispatch_control(self, method, path, data, ctx):
        def route(m, pattern):
            found = re.fullmatch(pattern, path)
            return found if found and m == method else None

        if route("GET", "/_fake/health"):
            return {"ok": True, "api_version": API_VERSION}
        if route("POST", "/_fake/flush"):
            self.flush()
            return {"ok": True}
        if route("GET", "/_fake/requests"):
            return {"requests": copy.deepcopy(self.requests)}
        if route("POST", "/_fake/faults"):
            return self.add_fault(data)
        if m := route("POST", r"/_fake/payment_intents/([^/]+)/complete_3ds"):
            return self.render(self.complete_3ds(m.group(1), bool(data.get("success", True)), ctx))
        if m := route("POST", r"/_fake/payment_intents/([^/]+)/confirm_as_browser"):
            pi = self.get("payment_intent", m.group(1), "intent")
            self.confirm(pi, {"payment_method": data["payment_method"]}, ctx)
            return self.render(pi)
        if m := route("POST", r"/_fake/refunds/([^/]+)/status"):
            return self.render(self.set_refund_status(m.group(1), data["status"], data.get("failure_reason"), ctx))
        if route("POST", "/_fake/refunds"):
            target = data["charge_or_intent"]
            if target.startswith("pi_"):
                pi = self.get("payment_intent", target, "payment_intent", 400)
                if not pi["latest_charge"] or self.objects[pi["latest_charge"]]["status"] != "succeeded":
                    raise invalid("This PaymentIntent does not have a successful charge to refund.",
                                  param="payment_intent")
                charge = self.objects[pi["latest_charge"]]
            else:
                charge = self.get("charge", target, "charge", 400)
            status = data.get("status", "succeeded")
            if status not in ("pending", "succeeded", "failed", "canceled", "requires_action"):
                raise invalid(f"fakestripe: bad refund status {status}", param="status")
            refund = self.refund(charge, data.get("amount"), ctx, metadata={}, status="pending")
            if status != "pending":
                self.set_refund_status(refund["id"], status, data.get("failure_reason"), ctx)
            return self.render(refund)
        if route("POST", "/_fake/disputes"):
            return self.render(self.create_dispute(
                data["charge"], data.get("amount"), data.get("status", "needs_response"), data.get("currency"),
                data.get("funds_withdrawn", True), ctx))
        if m := route("POST", r"/_fake/disputes/([^/]+)"):
            return self.render(self.update_dispute(m.group(1), data["status"], data.get("funds_reinstated", False),
                                                   ctx))
        if route("POST", "/_fake/settlement"):
            currency = data.get("currency")
            if currency is None:
                self.settlement = None
            else:
                rate = Decimal(str(data["exchange_rate"]))
                if rate <= 0:
                    raise invalid("fakestripe: exchange_rate must be > 0", param="exchange_rate")
                self.settlement = (currency.lower(), rate)
            return {"currency": currency and currency.lower(),
                    "exchange_rate": str(self.settlement[1]) if self.settlement else None}
        if route("POST", "/_fake/events"):
            return self.event(data["type"], data["object_id"], data.get("previous_attributes"))
        if m := route("GET", r"/_fake/objects/([a-z_.]+)"):
            kind = KIND_ALIASES.get(m.group(1))
            if kind is None:
                raise invalid(f"fakestripe: unknown kind {m.group(1)!r}", param="kind")
            return {"objects": [self.render(o) for o in self.all(kind)]}
        raise unrecognized(method, path)


def check_metadata(metadata: dict):
    """Stripe's metadata limits: 50 keys, keys up to 40 characters, values up to 500."""
    if len(metadata) > 50:
        raise param_error(f"You can have up to 50 metadata keys, but you passed in {len(metadata)}.",
                          param="metadata")
    for key, value in metadata.items():
        if len(key) > 40:
            raise param_error(f"Metadata keys can have up to 40 characters, but you passed in a key that is "
                              f"{len(key)} characters. Invalid key: {key}", param=f"metadata[{key}]")
        if len(value) > 500:
            raise param_error(f"Metadata values can have up to 500 characters, but you passed in a value that is "
                              f"{len(value)} characters. Invalid value: {value}", param=f"metadata[{key}]")


def _merge_metadata(current: dict, update) -> dict:
    """Stripe's metadata update: keys merge, an empty value deletes its key, '' clears all."""
    if update is None:
        return dict(current)
    if update == "":
        return {}
    merged = dict(current)
    for key, value in update.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


# --- HTTP -----------------------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    server_version = "nginx"
    sys_version = ""
    # One request per connection: a lost answer is simply a connection closed without a response.
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def log_message(self, format, *args):
        if self.server.verbose:
            super().log_message(format, *args)

    def dispatch(self, method: str):
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        state: State = self.server.state
        try:
            if url.path.startswith("/_fake/"):
                result = state.control(method, url.path, body)
            else:
                result = state.api(method, url.path, url.query, body, self.headers)
        except Exception:
            traceback.print_exc()
            result = Answer(500, ApiError(500, "api_error", "fakestripe crashed").body())
        if result.lose:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        data = json.dumps(result.body, indent=2).encode()
        try:
            self.send_response(result.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in result.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a hang longer than its timeout)


class FakeStripeServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, fixtures: dict, verbose: bool = False):
        self.state = State(fixtures)
        self.verbose = verbose
        super().__init__(("127.0.0.1", port), Handler)


def load_fixtures(path) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--fixtures", default=os.environ.get("FAKESTRIPE_FIXTURES", str(DEFAULT_FIXTURES)),
                        help="Stripe's fixtures3.json (default: the copy beside this file)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    server = FakeStripeServer(args.port, load_fixtures(args.fixtures), verbose=args.verbose)
    print(f"fakestripe (Stripe API {API_VERSION}) listening on http://127.0.0.1:{server.server_address[1]}",
          flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
