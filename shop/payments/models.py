"""What we keep of our conversation with Stripe.

- PaymentAttempt: one PaymentIntent per attempt to pay an order (a declined intent is never reused: a
  new attempt makes a new intent, with the idempotency key `pi:<order>:<attempt>`). The intents of an
  order's attempts are how `reconcile_payments` and `cancel_unpaid_orders` find what Stripe knows.
- StripeRefund: a refund, reserved before Stripe is asked (so two staff members cannot refund the same
  money twice) and recorded once by Stripe's refund id, whichever of the API answer and the webhook
  comes first (`recorded_at`).
- ExcessPayment: a successful charge for an order that is not its booked charge (a second charge, money
  for a cancelled order, an amount that does not match the order): recorded once by charge, refunded
  through Stripe once (idempotency key `excess:<charge id>`), never part of the sale or its donation.
- StripeDispute: a dispute as Stripe last reported it, on the booked charge or on an excess payment.
- StripeEvent: every verified webhook event, stored once by event id with its raw payload and the
  outcome of processing it (received = not processed yet; failed = the last attempt failed: retried at
  `next_attempt_at`, or given up when that is empty, until staff process it again).

The *booked* charge of an order is the one whose PaymentIntent is the reference of the order's payment
Source (`PaymentAttempt.booked`); every refund and dispute is matched to the charge it belongs to.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class PaymentAttempt(models.Model):
    """One PaymentIntent. PAYING means a pay request is talking to Stripe about it right now (the order's
    payment lease, see services.paying); `intent_id` is empty until Stripe has answered the create, and the
    idempotency key `pi:<order>:<number>` finds the intent again if that answer was lost."""

    CREATED, REQUIRES_ACTION, SUCCEEDED, FAILED, CANCELED, ERROR, PROCESSING, PAYING = (
        "created", "requires_action", "succeeded", "failed", "canceled", "error", "processing", "paying",
    )
    STATUSES = [(s, s) for s in (CREATED, REQUIRES_ACTION, SUCCEEDED, FAILED, CANCELED, ERROR, PROCESSING, PAYING)]

    order = models.ForeignKey("order.Order", on_delete=models.PROTECT, related_name="payment_attempts")
    number = models.PositiveIntegerField(_("attempt"))
    intent_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    # The payment that paid the order (its Source's reference); at most one per order.
    booked = models.BooleanField(default=False)
    # sha256 of the client's address (card-testing limits); never the address itself.
    client_hash = models.CharField(max_length=64, blank=True, db_index=True)
    # The card was refused (a decline or failed 3D Secure): counted by the card-testing limits even after
    # the intent is cancelled at Stripe.
    declined = models.BooleanField(default=False)
    amount = models.DecimalField(max_digits=12, decimal_places=3)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=32, choices=STATUSES, default=CREATED)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order", "number"]
        constraints = [
            models.UniqueConstraint(fields=["order", "number"], name="one_attempt_number_per_order"),
            models.UniqueConstraint(fields=["order"], condition=models.Q(booked=True),
                                    name="one_booked_attempt_per_order"),
        ]

    def __str__(self):
        return f"{self.order.number} #{self.number} {self.intent_id} {self.status}"


class StripeRefund(models.Model):
    """A refund of the booked charge. REQUESTED: reserved, Stripe not (yet) known to have it; PENDING:
    Stripe has it, money reserved, nothing reversed; SUCCEEDED: reversed once (`recorded_at`); FAILED or
    CANCELED: reservation released (after SUCCEEDED: the reversal restored once, `restored_at`)."""

    REQUESTED, SUCCEEDED, PENDING, FAILED, CANCELED = "requested", "succeeded", "pending", "failed", "canceled"
    STATUSES = [(s, s) for s in (REQUESTED, SUCCEEDED, PENDING, FAILED, CANCELED)]
    RELEASED = (FAILED, CANCELED)

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
    restored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["order", "created_at"]

    def __str__(self):
        return f"{self.refund_id or self.request_id}: {self.amount} {self.currency} ({self.status})"


class ExcessPayment(models.Model):
    """Money Stripe took for an order beyond its booked payment; refunded through Stripe once."""

    RECORDED, REFUND_PENDING, REFUNDED, REFUND_FAILED, DISPUTED = (
        "recorded", "refund_pending", "refunded", "refund_failed", "disputed",
    )
    STATUSES = [(s, s) for s in (RECORDED, REFUND_PENDING, REFUNDED, REFUND_FAILED, DISPUTED)]

    order = models.ForeignKey("order.Order", on_delete=models.PROTECT, related_name="excess_payments")
    intent_id = models.CharField(max_length=255)
    charge_id = models.CharField(max_length=255, unique=True)
    amount = models.DecimalField(max_digits=12, decimal_places=3)
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=STATUSES, default=RECORDED)
    refund_id = models.CharField(max_length=255, blank=True)
    refunded_amount = models.DecimalField(max_digits=12, decimal_places=3, default=0)
    refund_tries = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.charge_id}: {self.amount} {self.currency} ({self.status})"


class StripeDispute(models.Model):
    """A dispute as Stripe last reported it. `booked` tells whether it is on the order's booked charge
    (a lost one reverses the donation once, `reversed_amount`) or on an excess payment (never does)."""

    order = models.ForeignKey("order.Order", on_delete=models.PROTECT, related_name="stripe_disputes")
    dispute_id = models.CharField(max_length=255, unique=True)
    charge_id = models.CharField(max_length=255)
    booked = models.BooleanField()
    amount = models.DecimalField(max_digits=12, decimal_places=3)
    currency = models.CharField(max_length=3)
    # The disputed money in the order's currency (converted through Stripe's balance transactions when
    # the dispute is in another currency); None when it could not be determined.
    order_amount = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    status = models.CharField(max_length=32)
    reversed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.dispute_id}: {self.amount} {self.currency} ({self.status})"


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
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, help_text="the traceback of the last failed attempt")
    received_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["outcome", "received_at"])]

    def __str__(self):
        return f"{self.event_id} {self.type} {self.outcome}"
