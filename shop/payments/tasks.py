"""Celery tasks of the Stripe boundary (sent through shop.jobs.queue, never `.delay()` directly)."""

from celery import shared_task
from django.utils import timezone

from shop.payments import services, webhooks
from shop.payments.models import ExcessPayment, StripeEvent


@shared_task(bind=True, max_retries=None, ignore_result=True, acks_late=True)
def process_webhook_event(self, event_pk):
    """Process one stored Stripe event; a failure is retried at the time the event row records (the
    backoff lives in the database, so the sweep and staff see the same schedule)."""
    outcome, _ = webhooks.process_event(pk=event_pk)
    if outcome == StripeEvent.FAILED:
        retry_at = StripeEvent.objects.filter(pk=event_pk).values_list("next_attempt_at", flat=True).first()
        if retry_at is not None:
            raise self.retry(countdown=max(0.0, (retry_at - timezone.now()).total_seconds()))
    return outcome


@shared_task(ignore_result=True, acks_late=True)
def refund_excess_payment(excess_pk):
    """Refund an excess payment through Stripe (idempotent: its key is `excess:<charge>:<try>`). One that
    could not be made stays recorded with its error; reconcile_payments tries again."""
    excess = ExcessPayment.objects.filter(pk=excess_pk).first()
    if excess is not None:
        services.refund_excess(excess=excess)
