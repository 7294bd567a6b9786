"""The gateway's errors, and the one place stripe-python's exceptions are mapped onto them."""

import stripe
from oscar.apps.payment.exceptions import PaymentError, UnableToTakePayment

from shop.payments.gateway.objects import id_of


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


class StripeCall:
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
                payment_intent_id=id_of(body.get("payment_intent")),
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
