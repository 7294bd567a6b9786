"""The Stripe gateway: the only module of the project that imports `stripe`.

Everything that leaves this module is a frozen dataclass with `Decimal` amounts in major units and
upper-case ISO 4217 currency codes; minor units exist only in the calls below, converted by Stripe's
own rules (`fundraising.money.to_stripe_minor/from_stripe_minor`: ISK, HUF, TWD, UGX as two-decimal
amounts ending in 00, MGA zero-decimal, three-decimal amounts ending in 0).

Every request uses only parameters of stripe-python's generated params types for the pinned API
version (`stripe.params`); the tests' Stripe-shaped fake refuses any other, as Stripe does.

Errors: a card problem (`stripe.CardError`) becomes `CardDeclined`, an Oscar `UnableToTakePayment`
whose message can be shown to the fan; every other Stripe failure (network, timeout, auth, rate
limit, 4xx/5xx) becomes Oscar's `PaymentError`; a missing secret key is `GatewayNotConfigured`.
A confirmation that *returns* an intent carrying `last_payment_error` (e.g. failed 3DS) is not an
error: the intent is returned and the caller reads its status.

The same code talks to real Stripe and to localstripe (`STRIPE_API_BASE`); where localstripe
differs, the code below says so next to the workaround.
"""

import dataclasses
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import stripe
from oscar.apps.payment.exceptions import PaymentError, UnableToTakePayment

from fundraising.money import from_stripe_minor, normalise, to_stripe_minor

__all__ = [
    "BalanceTransaction",
    "Charge",
    "CardDeclined",
    "Dispute",
    "GatewayNotConfigured",
    "InvalidWebhook",
    "ObjectNotFound",
    "PaymentError",
    "PaymentIntent",
    "Refund",
    "StripeUnreachable",
    "StripeGateway",
    "UnableToTakePayment",
    "WebhookEvent",
    "get_gateway",
]


# --- what leaves the boundary ---------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentIntent:
    id: str
    status: str
    amount: Decimal
    currency: str
    amount_received: Decimal
    client_secret: str | None
    payment_method: str | None
    latest_charge_id: str | None
    metadata: dict = field(hash=False)
    last_error_message: str | None
    next_action_type: str | None
    # Stripe's codes of `last_payment_error` (read by shop/checkout/declines.py to word a decline for the fan).
    last_error_code: str | None = None
    last_error_decline_code: str | None = None


@dataclass(frozen=True)
class Refund:
    id: str
    amount: Decimal
    currency: str
    status: str  # pending, requires_action, succeeded, failed, canceled
    charge_id: str | None
    payment_intent_id: str | None
    metadata: dict = field(hash=False)
    failure_reason: str | None = None


@dataclass(frozen=True)
class BalanceTransaction:
    """Money as it moved in the Stripe balance: `amount`, `fee` and `net` in the settlement `currency`;
    `exchange_rate` (settlement per presentment unit) when it differs from the charge's currency."""

    id: str
    amount: Decimal
    fee: Decimal
    net: Decimal
    currency: str
    exchange_rate: Decimal | None
    type: str


@dataclass(frozen=True)
class Charge:
    id: str
    status: str
    amount: Decimal
    amount_captured: Decimal
    amount_refunded: Decimal
    currency: str
    payment_intent_id: str | None
    # The fee in the charge's own currency, or None when Stripe settled it in another currency or has not
    # settled it yet (the caller then estimates it from the fee schedule).
    balance_transaction_fee: Decimal | None
    balance_transaction: BalanceTransaction | None
    refunds: tuple[Refund, ...]
    disputed: bool


@dataclass(frozen=True)
class Dispute:
    id: str
    amount: Decimal
    currency: str
    status: str
    charge_id: str | None
    payment_intent_id: str | None
    balance_transactions: tuple[BalanceTransaction, ...] = ()


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    created: int
    object_type: str
    object_id: str | None
    payload: dict = field(hash=False)


# --- errors ---------------------------------------------------------------------------------------


class GatewayNotConfigured(PaymentError):
    """The Stripe secret key (or, for webhooks, the signing secret) is not set."""


class StripeUnreachable(PaymentError):
    """No answer came back (connection refused, reset or timed out): whether Stripe acted is unknown.
    Retry with the same idempotency key, or retrieve, never assume it failed."""


class ObjectNotFound(PaymentError):
    """Stripe answered 404 `resource_missing`: it does not have the object (another account's, a test
    object in live mode, or not Stripe's id at all)."""


class CardDeclined(UnableToTakePayment):
    """The card was refused. `str(exc)` is Stripe's fan-readable message; `code`/`decline_code`
    are Stripe's codes; `payment_intent_id` is set when Stripe reports which intent failed."""

    def __init__(self, message, *, code=None, decline_code=None, payment_intent_id=None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.decline_code = decline_code
        self.payment_intent_id = payment_intent_id


class InvalidWebhook(Exception):
    """A webhook that must not be processed: missing, forged or stale signature, or a body that is
    not a Stripe event. Answer 400."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


_DEFAULT_DECLINE_MESSAGE = "Your card was declined."


class _StripeCall:
    """Maps stripe-python's exceptions onto ours for one gateway call (`what` names the call)."""

    def __init__(self, what):
        self.what = what

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None or not isinstance(exc, stripe.StripeError):
            return False
        if isinstance(exc, stripe.CardError):
            body = (exc.json_body or {}).get("error") or {}
            raise CardDeclined(
                exc.user_message or _DEFAULT_DECLINE_MESSAGE,
                code=exc.code,
                decline_code=body.get("decline_code"),
                payment_intent_id=_id_of(body.get("payment_intent")),
            ) from exc
        kind = type(exc).__name__
        message = " ".join((exc.user_message or str(exc) or "no message").split())
        if exc.http_status == 404 or getattr(exc, "code", None) == "resource_missing":
            raise ObjectNotFound(f"Stripe has no such object ({self.what}): {message}") from exc
        if isinstance(exc, stripe.APIConnectionError):
            # No answer came back, so the outcome is unknown: the caller must retrieve (or retry
            # with the same idempotency key), never assume failure.
            raise StripeUnreachable(
                f"Could not reach Stripe while trying to {self.what} ({kind}); the outcome is unknown. "
                f"{message}"
            ) from exc
        status = f" HTTP {exc.http_status}" if exc.http_status else ""
        raise PaymentError(f"Stripe refused to {self.what} ({kind}{status}): {message}") from exc


# --- the gateway ----------------------------------------------------------------------------------


class StripeGateway:
    """A small, explicit Stripe client. Thread-safe (stripe's RequestsClient keeps one session per
    thread); build one per process or per request, both are cheap."""

    def __init__(
        self,
        *,
        secret_key: str,
        webhook_secret: str,
        api_base: str | None = None,
        timeout: float = 10,
        max_network_retries: int = 2,
        localstripe: bool = False,
    ):
        if not secret_key:
            raise GatewayNotConfigured("STRIPE_SECRET_KEY is not set: card payments are unavailable")
        self._webhook_secret = webhook_secret or ""
        self.api_base = api_base or None
        self.timeout = timeout
        self.max_network_retries = max_network_retries
        # localstripe (the demo's peer) refuses parameters real Stripe requires or accepts
        # (`allowed_payment_method_types`, `receipt_email`) and cannot confirm with a payment method.
        self.localstripe = localstripe
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base.rstrip("/")} if api_base else None,
            max_network_retries=max_network_retries,
            http_client=stripe.RequestsClient(timeout=timeout),
        )
        self._v1 = self._client.v1

    # PaymentIntents -------------------------------------------------------------------------------

    def create_intent(
        self,
        *,
        amount: Decimal,
        currency: str,
        order_number: str,
        attempt: int,
        metadata: dict | None = None,
        description: str | None = None,
        receipt_email: str | None = None,
    ) -> PaymentIntent:
        """Create (not confirm) a card PaymentIntent for `amount` `currency`. Idempotent per
        (order_number, attempt): the same key returns the same intent, so calling this again with the
        same arguments after a lost answer finds the intent instead of making a second one.
        Raises CurrencyError (before any request) for an amount Stripe cannot charge."""
        currency = normalise(currency)
        params: dict[str, Any] = {
            "amount": to_stripe_minor(amount, currency),
            "currency": currency.lower(),
            "metadata": {
                **{str(k): str(v) for k, v in (metadata or {}).items()},
                "order_number": str(order_number),
                "attempt": str(attempt),
            },
        }
        if not self.localstripe:
            # Cards only, confirmed on the server: with automatic payment methods Stripe would require a
            # return_url for redirect-based methods. API 2026-09-30 and later refuse the old
            # `payment_method_types` (400 payment_method_types_no_longer_supported).
            params["allowed_payment_method_types"] = ["card"]
            if receipt_email:
                params["receipt_email"] = receipt_email  # Radar scores the payment with it
        if description is not None:
            # Only when given: localstripe rejects `description` on PaymentIntents (400).
            params["description"] = description
        with _StripeCall("create a payment intent"):
            obj = self._v1.payment_intents.create(
                params, options={"idempotency_key": f"pi:{order_number}:{attempt}"}
            )
        return _intent(obj)

    def update_intent(self, intent_id: str, *, payment_method: str) -> PaymentIntent:
        with _StripeCall("update a payment intent"):
            obj = self._v1.payment_intents.update(intent_id, {"payment_method": payment_method})
        return _intent(obj)

    def confirm_intent(
        self, intent_id: str, *, payment_method: str | None = None, return_url: str | None = None
    ) -> PaymentIntent:
        """Confirm on the server. Returns the intent whatever its new status (`succeeded`,
        `processing`, `requires_action` for 3DS, `requires_payment_method` with
        `last_error_message`); raises CardDeclined when Stripe refuses the card outright."""
        params: dict[str, Any] = {}
        if payment_method is not None:
            if self.localstripe:
                # localstripe answers 500 "Not implemented" to confirm(payment_method=...); setting it
                # first is equivalent.
                self.update_intent(intent_id, payment_method=payment_method)
            else:
                params["payment_method"] = payment_method
        if return_url is not None:
            # Only when given: localstripe rejects any confirm parameter (400).
            params["return_url"] = return_url
        with _StripeCall("confirm a payment"):
            obj = self._v1.payment_intents.confirm(intent_id, params)
        return _intent(obj)

    def retrieve_intent(self, intent_id: str) -> PaymentIntent:
        with _StripeCall("retrieve a payment intent"):
            obj = self._v1.payment_intents.retrieve(intent_id)
        return _intent(obj)

    def cancel_intent(self, intent_id: str) -> PaymentIntent:
        with _StripeCall("cancel a payment intent"):
            obj = self._v1.payment_intents.cancel(intent_id)
        return _intent(obj)

    # Charges, refunds, disputes -------------------------------------------------------------------

    def retrieve_charge(self, charge_id: str) -> Charge:
        """The charge with its refunds and, when Stripe reports it in the charge's currency, the
        fee from its balance transaction (else `balance_transaction_fee` is None)."""
        with _StripeCall("retrieve a charge"):
            obj = self._v1.charges.retrieve(
                charge_id, {"expand": ["balance_transaction", "refunds"]}
            )
            data = obj.to_dict()
            refunds_list = data.get("refunds") or {}
            refund_dicts = list(refunds_list.get("data") or [])
            if refunds_list.get("has_more"):
                refund_dicts = [
                    r.to_dict()
                    for r in self._v1.refunds.list({"charge": data["id"], "limit": 100}).auto_paging_iter()
                ]
        charge = _charge(data, tuple(_refund(r) for r in refund_dicts))
        if self.localstripe:
            # localstripe reports every fee as 0: a fee it never charged would promise fans one donation
            # and post another. None makes the ledger use the fee schedule, marked as estimated.
            charge = dataclasses.replace(charge, balance_transaction_fee=None)
        return charge

    def create_refund(
        self,
        *,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        payment_intent_id: str | None = None,
        charge_id: str | None = None,
        metadata: dict | None = None,
    ) -> Refund:
        """Refund `amount` `currency` of one charge (named by `charge_id`, or by its `payment_intent_id`).
        Raises PaymentError, before any money moves, when `currency` is not the charge's (the minor-unit
        scale would be wrong)."""
        if (payment_intent_id is None) == (charge_id is None):
            raise ValueError("name exactly one of payment_intent_id and charge_id")
        currency = normalise(currency)
        minor = to_stripe_minor(amount, currency)
        if charge_id is not None:
            with _StripeCall("retrieve a charge"):
                paid_in = normalise(self._v1.charges.retrieve(charge_id).to_dict()["currency"])
        else:
            paid_in = self.retrieve_intent(payment_intent_id).currency
        if paid_in != currency:
            raise PaymentError(
                f"cannot refund {amount} {currency} of {charge_id or payment_intent_id}: it was paid in {paid_in}"
            )
        params: dict[str, Any] = {"amount": minor}
        if charge_id is not None:
            params["charge"] = charge_id
        else:
            params["payment_intent"] = payment_intent_id
        if metadata:
            params["metadata"] = {str(k): str(v) for k, v in metadata.items()}
        with _StripeCall("create a refund"):
            obj = self._v1.refunds.create(params, options={"idempotency_key": idempotency_key})
        return _refund(obj.to_dict())

    def retrieve_refund(self, refund_id: str) -> Refund:
        with _StripeCall("retrieve a refund"):
            obj = self._v1.refunds.retrieve(refund_id)
        return _refund(obj.to_dict())

    def list_refunds(self, *, payment_intent_id: str) -> tuple[Refund, ...]:
        """Every refund of the intent's charge, newest first (all pages)."""
        with _StripeCall("list refunds"):
            pages = self._v1.refunds.list({"payment_intent": payment_intent_id, "limit": 100})
            return tuple(_refund(r.to_dict()) for r in pages.auto_paging_iter())

    def retrieve_dispute(self, dispute_id: str) -> Dispute:
        with _StripeCall("retrieve a dispute"):
            obj = self._v1.disputes.retrieve(dispute_id)
        return _dispute(obj.to_dict())

    # Webhooks -------------------------------------------------------------------------------------

    def parse_webhook(self, *, payload: bytes, signature_header: str | None) -> WebhookEvent:
        """Verify the Stripe-Signature (stripe's own check, default 300 s tolerance) and parse the
        event. Raises InvalidWebhook for a missing/forged/stale signature or a body that is not a
        Stripe event; GatewayNotConfigured when STRIPE_WEBHOOK_SECRET is empty."""
        if not self._webhook_secret:
            raise GatewayNotConfigured("STRIPE_WEBHOOK_SECRET is not set: webhooks cannot be verified")
        if not signature_header:
            raise InvalidWebhook("missing Stripe-Signature header")
        try:
            stripe.WebhookSignature.verify_header(
                payload, signature_header, self._webhook_secret, stripe.Webhook.DEFAULT_TOLERANCE
            )
        except stripe.SignatureVerificationError as exc:
            raise InvalidWebhook(f"bad Stripe-Signature: {exc.user_message or exc}") from exc
        except UnicodeDecodeError as exc:
            raise InvalidWebhook("body is not UTF-8") from exc
        # Parsed here rather than by stripe.Webhook.construct_event: the rest of the project wants
        # a plain dict, and a signed but non-object body (e.g. `[]`) must be refused, not crash.
        try:
            data = json.loads(payload)
        except ValueError as exc:
            raise InvalidWebhook(f"body is not JSON: {exc}") from exc
        inner = data.get("data") if isinstance(data, dict) else None
        obj = inner.get("object") if isinstance(inner, dict) else None
        if not isinstance(obj, dict) or data.get("object") != "event" or not data.get("id") or not data.get("type"):
            # Also refuses thin (v2) event notifications, which this endpoint does not subscribe to.
            raise InvalidWebhook("body is not a Stripe snapshot event (object, id, type, data.object)")
        return WebhookEvent(
            id=str(data["id"]),
            type=str(data["type"]),
            created=int(data.get("created") or 0),
            object_type=str(obj.get("object") or ""),
            object_id=obj.get("id"),
            payload=data,
        )


def get_gateway() -> StripeGateway:
    """A gateway built from Django settings, read at call time (tests may override them)."""
    from django.conf import settings

    return StripeGateway(
        secret_key=getattr(settings, "STRIPE_SECRET_KEY", ""),
        webhook_secret=getattr(settings, "STRIPE_WEBHOOK_SECRET", ""),
        api_base=getattr(settings, "STRIPE_API_BASE", "") or None,
        timeout=getattr(settings, "STRIPE_TIMEOUT", 10),
        max_network_retries=getattr(settings, "STRIPE_MAX_NETWORK_RETRIES", 2),
        localstripe=getattr(settings, "STRIPE_PEER", "stripe") == "localstripe",
    )


# --- conversions ----------------------------------------------------------------------------------


def _id_of(value) -> str | None:
    """An id from a field that may hold an id, an expanded object or nothing."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        return value.get("id")
    return getattr(value, "id", None)


def _intent(obj) -> PaymentIntent:
    d = obj.to_dict()
    currency = normalise(d["currency"])
    latest_charge = d.get("latest_charge")
    amount_received = d.get("amount_received")
    if amount_received is None:
        # localstripe has no amount_received; its latest_charge comes back embedded, so derive it
        # from a captured, succeeded charge (real Stripe always sends the field).
        amount_received = 0
        if (
            isinstance(latest_charge, dict)
            and latest_charge.get("status") == "succeeded"
            and latest_charge.get("captured")
        ):
            amount_received = latest_charge.get("amount_captured", latest_charge["amount"])
    error = d.get("last_payment_error") or {}
    next_action = d.get("next_action") or {}
    return PaymentIntent(
        id=d["id"],
        status=d["status"],
        amount=from_stripe_minor(d["amount"], currency),
        currency=currency,
        amount_received=from_stripe_minor(amount_received, currency),
        client_secret=d.get("client_secret"),
        payment_method=_id_of(d.get("payment_method")),
        latest_charge_id=_id_of(latest_charge),
        metadata=dict(d.get("metadata") or {}),
        last_error_message=error.get("message"),
        next_action_type=next_action.get("type"),
        last_error_code=error.get("code"),
        last_error_decline_code=error.get("decline_code"),
    )


def _balance_transaction(d) -> BalanceTransaction | None:
    if not isinstance(d, dict):
        return None  # not expanded (an id) or none yet
    currency = normalise(d["currency"])
    rate = d.get("exchange_rate")
    return BalanceTransaction(
        id=d["id"],
        amount=from_stripe_minor(d["amount"], currency),
        fee=from_stripe_minor(d.get("fee") or 0, currency),
        net=from_stripe_minor(d.get("net") or 0, currency),
        currency=currency,
        # Stripe sends a JSON number; through str() so the Decimal is the number as written.
        exchange_rate=Decimal(str(rate)) if rate is not None else None,
        type=str(d.get("type") or ""),
    )


def _dispute(d: dict) -> Dispute:
    currency = normalise(d["currency"])
    return Dispute(
        id=d["id"],
        amount=from_stripe_minor(d["amount"], currency),
        currency=currency,
        status=d["status"],
        charge_id=_id_of(d.get("charge")),
        payment_intent_id=_id_of(d.get("payment_intent")),
        balance_transactions=tuple(
            bt for bt in (_balance_transaction(x) for x in d.get("balance_transactions") or []) if bt is not None
        ),
    )


def _refund(d: dict) -> Refund:
    currency = normalise(d["currency"])
    return Refund(
        id=d["id"],
        amount=from_stripe_minor(d["amount"], currency),
        currency=currency,
        status=d["status"],
        charge_id=_id_of(d.get("charge")),
        payment_intent_id=_id_of(d.get("payment_intent")),
        metadata=dict(d.get("metadata") or {}),
        failure_reason=d.get("failure_reason"),
    )


def _charge(d: dict, refunds: tuple[Refund, ...]) -> Charge:
    currency = normalise(d["currency"])
    txn = _balance_transaction(d.get("balance_transaction"))
    # Only a transaction settled in the charge's own currency gives a fee we can use: in another
    # settlement currency the fee cannot be stated in the order's currency, so the caller falls back
    # to its fee schedule (never mix currencies).
    fee = txn.fee if txn is not None and txn.currency == currency else None
    amount = from_stripe_minor(d["amount"], currency)
    captured = d.get("amount_captured")
    return Charge(
        id=d["id"],
        status=str(d.get("status") or ""),
        amount=amount,
        # localstripe has no amount_captured: a captured charge there captured its whole amount.
        amount_captured=from_stripe_minor(captured, currency) if captured is not None
        else (amount if d.get("captured") else from_stripe_minor(0, currency)),
        amount_refunded=from_stripe_minor(d.get("amount_refunded") or 0, currency),
        currency=currency,
        payment_intent_id=_id_of(d.get("payment_intent")),
        balance_transaction_fee=fee,
        balance_transaction=txn,
        refunds=refunds,
        # localstripe has no disputes: the field is absent there.
        disputed=bool(d.get("disputed", False)),
    )
