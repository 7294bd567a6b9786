"""Stripe webhook signatures, computed exactly as Stripe computes them (no `stripe` import).

Stripe signs `f"{t}.{body}"` with HMAC-SHA256 under the endpoint's signing secret and sends
`Stripe-Signature: t=<unix time>,v1=<hex digest>`. Tests and scripts use this to deliver events that
localstripe never sends (refunds, disputes, charge events) through the real verification path.
"""

import hashlib
import hmac
import time


def sign_webhook_payload(*, payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header value for `payload` (the raw body bytes) at `timestamp`
    (now when None). Raises TypeError for a non-bytes payload: the signature covers exact bytes."""
    if not isinstance(payload, (bytes, bytearray)):
        raise TypeError(f"payload must be bytes, not {type(payload).__name__}")
    if timestamp is None:
        timestamp = int(time.time())
    signed = str(int(timestamp)).encode("ascii") + b"." + bytes(payload)
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"t={int(timestamp)},v1={digest}"
