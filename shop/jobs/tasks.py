"""Celery tasks of background work: email delivery and the periodic jobs (sent through shop.jobs.queue,
scheduled by settings.CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from shop.jobs import outbox, periodic


@shared_task(bind=True, max_retries=None, ignore_result=True, acks_late=True)
def deliver_email(self, email_pk):
    """Send one owed email; retried with the backoff its row records, until sent or failed for good."""
    try:
        outbox.deliver(pk=email_pk)
    except outbox.RetryLater as later:
        raise self.retry(countdown=later.seconds) from None


def _summary(job):
    return job if job == periodic.SKIPPED else f"{job.outcome}: {job.summary[:200]}"


@shared_task(ignore_result=True)
def reconcile_payments():
    return _summary(periodic.reconcile_payments())


@shared_task(ignore_result=True)
def cancel_unpaid_orders():
    return _summary(periodic.cancel_unpaid_orders())


@shared_task(ignore_result=True)
def checkpoint_ledger():
    return _summary(periodic.checkpoint_ledger())


@shared_task(ignore_result=True)
def record_ledger_head():
    return _summary(periodic.record_ledger_head())


@shared_task(ignore_result=True)
def verify_ledger():
    return _summary(periodic.verify_ledger())


@shared_task(ignore_result=True)
def sweep():
    return _summary(periodic.sweep())
