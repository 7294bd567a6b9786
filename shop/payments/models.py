"""What we keep of our conversation with Stripe.

- PaymentAttempt: one PaymentIntent per attempt to pay an order (a declined intent is never reused: a
  new attempt makes a new intent, with the idempotency key `pi:<order>:<attempt>`). The intents of an
  order's attempts are how `reconcile_payments` and `cancel_unpaid_orders` find what Stripe knows.
- StripeRefund: a refund, reserved before Stripe is asked (so two staff members cannot refund the same
  money twice) and recorded once by Stripe's refund id, whichever of the API answer and the webhook
  comes first (`recorded_at`).
- StripeEvent: every verified webhook event, stored once by event id with its raw payload and the
  outcome of processing it; a failed event is processed again when Stripe retries.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class PaymentAttempt(models.Model):
    CREATED, REQUIRES_ACTION, SUCCEEDED, FAILED, CANCELED, ERROR = (
        "created", "requires_action", "succeeded", "failed", "canceled", "error",
    )
    STATUSES = [(s, s) for s in (CREATED, REQUIRES_ACTION, SUCCEEDED, FAILED, CANCELED, ERROR)]

    order = models.ForeignKey("order.Order", on_delete=models.PROTECT, related_name="payment_attempts")
    number = models.PositiveIntegerField(_("attempt"))
    intent_id = models.CharField(max_length=255, unique=True)
    amount = models.DecimalField(max_digits=12, decimal_places=3)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=32, choices=STATUSES, default=CREATED)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order", "number"]
        constraints = [models.UniqueConstraint(fields=["order", "number"], name="one_attempt_number_per_order")]

    def __str__(self):
        return f"{self.order.number} #{self.number} {self.intent_id} {self.status}"


class StripeRefund(models.Model):
    REQUESTED, SUCCEEDED, PENDING, FAILED = "requested", "succeeded", "pending", "failed"
    STATUSES = [(s, s) for s in (REQUESTED, SUCCEEDED, PENDING, FAILED)]

    order = models.ForeignKey("order.Order", on_delete=models.PROTECT, related_name="stripe_refunds")
    request_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    refund_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=3)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=STATUSES, default=REQUESTED)
    # {order line id (str): quantity} when the refund names lines; empty for an amount refund.
    lines = models.JSONField(default=dict, blank=True)
    reason = models.CharField(max_length=255, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    recorded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["order", "created_at"]

    def __str__(self):
        return f"{self.refund_id or self.request_id}: {self.amount} {self.currency} ({self.status})"


class StripeEvent(models.Model):
    RECEIVED, PROCESSED, IGNORED, FAILED = "received", "processed", "ignored", "failed"
    OUTCOMES = [(s, s) for s in (RECEIVED, PROCESSED, IGNORED, FAILED)]

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=255)
    object_id = models.CharField(max_length=255, blank=True)
    livemode = models.BooleanField(default=False)
    stripe_created = models.BigIntegerField(null=True)
    payload = models.JSONField()
    outcome = models.CharField(max_length=16, choices=OUTCOMES, default=RECEIVED)
    detail = models.TextField(blank=True)
    deliveries = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self):
        return f"{self.event_id} {self.type} {self.outcome}"
