"""The Stripe gateway: the only module of the project that imports `stripe`.

Everything that leaves this module is a frozen dataclass with `Decimal` amounts in major units and
upper-case ISO 4217 currency codes; minor units exist only in the calls below, converted by
`shop.currency.to_minor/from_minor`.

Errors: a card problem (`stripe.CardError`) becomes `CardDeclined`, an Oscar `UnableToTakePayment`
whose message can be shown to the fan; every other Stripe failure (network, timeout, auth, rate
limit, 4xx/5xx) becomes Oscar's `PaymentError`; a missing secret key is `GatewayNotConfigured`.
A confirmation that *returns* an intent carrying `last_payment_error` (e.g. failed 3DS) is not an
error: the intent is returned and the caller reads its status.

The same code talks to real Stripe and to localstripe (`STRIPE_API_BASE`); where localstripe
differs, the code below says so next to the workaround.
"""

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import stripe
from oscar.apps.payment.exceptions import PaymentError, UnableToTakePayment

from shop.currency import from_minor, normalise, to_minor

__all__ = [
    "Charge",
    "CardDeclined",
    "Dispute",
    "GatewayNotConfigured",
    "InvalidWebhook",
    "PaymentError",
    "PaymentIntent",
    "Refund",
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


@dataclass(frozen=True)
class Refund:
    id: str
    amount: Decimal
    currency: str
    status: str
    charge_id: str | None
    payment_intent_id: str | None
    metadata: dict = field(hash=False)


@dataclass(frozen=True)
class Charge:
    id: str
    amount: Decimal
    amount_refunded: Decimal
    currency: str
    payment_intent_id: str | None
    balance_transaction_fee: Decimal | None
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
        if isinstance(exc, stripe.APIConnectionError):
            # No answer came back, so the outcome is unknown: the caller must retrieve (or retry
            # with the same idempotency key), never assume failure.
            raise PaymentError(
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
    ):
        if not secret_key:
            raise GatewayNotConfigured("STRIPE_SECRET_KEY is not set: card payments are unavailable")
        self._webhook_secret = webhook_secret or ""
        self.api_base = api_base or None
        self.timeout = timeout
        self.max_network_retries = max_network_retries
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
    ) -> PaymentIntent:
        """Create (not confirm) a card PaymentIntent for `amount` `currency`. Idempotent per
        (order_number, attempt) on real Stripe: the same key returns the same intent.
        Raises CurrencyError (before any request) for an amount finer than the minor unit."""
        currency = normalise(currency)
        params: dict[str, Any] = {
            "amount": to_minor(amount, currency),
            "currency": currency.lower(),
            # Cards only, confirmed on the server: with automatic payment methods Stripe would
            # require a return_url for redirect-based methods at confirmation.
            "payment_method_types": ["card"],
            "metadata": {
                **{str(k): str(v) for k, v in (metadata or {}).items()},
                "order_number": str(order_number),
                "attempt": str(attempt),
            },
        }
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
        if payment_method is not None:
            # localstripe answers 500 "Not implemented" to confirm(payment_method=...); setting it
            # first is equivalent on real Stripe.
            self.update_intent(intent_id, payment_method=payment_method)
        params: dict[str, Any] = {}
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
        return _charge(data, tuple(_refund(r) for r in refund_dicts))

    def create_refund(
        self,
        *,
        payment_intent_id: str,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        metadata: dict | None = None,
    ) -> Refund:
        """Refund `amount` `currency` of the intent's charge. Raises PaymentError, before any money
        moves, when `currency` is not the intent's (the minor-unit scale would be wrong)."""
        currency = normalise(currency)
        minor = to_minor(amount, currency)
        intent = self.retrieve_intent(payment_intent_id)
        if intent.currency != currency:
            raise PaymentError(
                f"cannot refund {amount} {currency} of {payment_intent_id}: it was paid in {intent.currency}"
            )
        params: dict[str, Any] = {
            "payment_intent": payment_intent_id,
            "amount": minor,
        }
        if metadata:
            params["metadata"] = {str(k): str(v) for k, v in metadata.items()}
        with _StripeCall("create a refund"):
            obj = self._v1.refunds.create(params, options={"idempotency_key": idempotency_key})
        return _refund(obj.to_dict())

    def retrieve_refund(self, refund_id: str) -> Refund:
        with _StripeCall("retrieve a refund"):
            obj = self._v1.refunds.retrieve(refund_id)
        return _refund(obj.to_dict())

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
        amount=from_minor(d["amount"], currency),
        currency=currency,
        amount_received=from_minor(amount_received, currency),
        client_secret=d.get("client_secret"),
        payment_method=_id_of(d.get("payment_method")),
        latest_charge_id=_id_of(latest_charge),
        metadata=dict(d.get("metadata") or {}),
        last_error_message=error.get("message"),
        next_action_type=next_action.get("type"),
    )


def _dispute(d: dict) -> Dispute:
    currency = normalise(d["currency"])
    return Dispute(
        id=d["id"],
        amount=from_minor(d["amount"], currency),
        currency=currency,
        status=d["status"],
        charge_id=_id_of(d.get("charge")),
        payment_intent_id=_id_of(d.get("payment_intent")),
    )


def _refund(d: dict) -> Refund:
    currency = normalise(d["currency"])
    return Refund(
        id=d["id"],
        amount=from_minor(d["amount"], currency),
        currency=currency,
        status=d["status"],
        charge_id=_id_of(d.get("charge")),
        payment_intent_id=_id_of(d.get("payment_intent")),
        metadata=dict(d.get("metadata") or {}),
    )


def _charge(d: dict, refunds: tuple[Refund, ...]) -> Charge:
    currency = normalise(d["currency"])
    fee = None
    txn = d.get("balance_transaction")
    # Only an expanded transaction settled in the charge's own currency gives a fee we can use:
    # in another settlement currency the fee cannot be stated in the order's currency, so the
    # caller falls back to its fee schedule (never mix currencies).
    if isinstance(txn, dict) and txn.get("fee") is not None and normalise(txn["currency"]) == currency:
        fee = from_minor(txn["fee"], currency)
    return Charge(
        id=d["id"],
        amount=from_minor(d["amount"], currency),
        amount_refunded=from_minor(d.get("amount_refunded") or 0, currency),
        currency=currency,
        payment_intent_id=_id_of(d.get("payment_intent")),
        balance_transaction_fee=fee,
        refunds=refunds,
        # localstripe has no disputes: the field is absent there.
        disputed=bool(d.get("disputed", False)),
    )
