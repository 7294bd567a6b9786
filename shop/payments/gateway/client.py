"""The Stripe client: every request the shop makes to Stripe, and `get_gateway` (built from settings)."""

import dataclasses
import json
from decimal import Decimal
from typing import Any

import stripe
from oscar.apps.payment.exceptions import PaymentError

from fundraising.money import normalise, to_stripe_minor
from shop.payments.gateway.errors import GatewayNotConfigured, InvalidWebhook, StripeCall
from shop.payments.gateway.objects import (
    Charge,
    Dispute,
    PaymentIntent,
    Refund,
    WebhookEvent,
    charge_of,
    dispute_of,
    intent_of,
    refund_of,
)


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
        with StripeCall("create a payment intent"):
            obj = self._v1.payment_intents.create(
                params, options={"idempotency_key": f"pi:{order_number}:{attempt}"}
            )
        return intent_of(obj)

    def update_intent(self, intent_id: str, *, payment_method: str) -> PaymentIntent:
        with StripeCall("update a payment intent"):
            obj = self._v1.payment_intents.update(intent_id, {"payment_method": payment_method})
        return intent_of(obj)

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
        with StripeCall("confirm a payment"):
            obj = self._v1.payment_intents.confirm(intent_id, params)
        return intent_of(obj)

    def retrieve_intent(self, intent_id: str) -> PaymentIntent:
        with StripeCall("retrieve a payment intent"):
            obj = self._v1.payment_intents.retrieve(intent_id)
        return intent_of(obj)

    def cancel_intent(self, intent_id: str) -> PaymentIntent:
        with StripeCall("cancel a payment intent"):
            obj = self._v1.payment_intents.cancel(intent_id)
        return intent_of(obj)

    # Charges, refunds, disputes -------------------------------------------------------------------

    def retrieve_charge(self, charge_id: str) -> Charge:
        """The charge with its refunds and, when Stripe reports it in the charge's currency, the
        fee from its balance transaction (else `balance_transaction_fee` is None)."""
        with StripeCall("retrieve a charge"):
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
        charge = charge_of(data, tuple(refund_of(r) for r in refund_dicts))
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
            with StripeCall("retrieve a charge"):
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
        with StripeCall("create a refund"):
            obj = self._v1.refunds.create(params, options={"idempotency_key": idempotency_key})
        return refund_of(obj.to_dict())

    def retrieve_refund(self, refund_id: str) -> Refund:
        with StripeCall("retrieve a refund"):
            obj = self._v1.refunds.retrieve(refund_id)
        return refund_of(obj.to_dict())

    def list_refunds(self, *, payment_intent_id: str) -> tuple[Refund, ...]:
        """Every refund of the intent's charge, newest first (all pages)."""
        with StripeCall("list refunds"):
            pages = self._v1.refunds.list({"payment_intent": payment_intent_id, "limit": 100})
            return tuple(refund_of(r.to_dict()) for r in pages.auto_paging_iter())

    def retrieve_dispute(self, dispute_id: str) -> Dispute:
        with StripeCall("retrieve a dispute"):
            obj = self._v1.disputes.retrieve(dispute_id)
        return dispute_of(obj.to_dict())

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
