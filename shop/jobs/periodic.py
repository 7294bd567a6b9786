"""The periodic jobs celery beat schedules (settings.CELERY_BEAT_SCHEDULE), each run once at a time
across every machine (shop.jobs.locks), each run recorded (JobRun). The management commands stay the
manual entry points; the jobs run the same commands, so both report alike.
"""

import io
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from shop.jobs import locks
from shop.jobs.models import JobRun

logger = logging.getLogger("shop.jobs")

SKIPPED = "skipped"


def run(name, body, *, lease_seconds):
    """Run `body()` (returning (outcome, summary)) as job `name` unless another run holds its lease.
    Returns the JobRun, or SKIPPED."""
    with locks.lease(name, seconds=lease_seconds) as holder:
        if holder is None:
            logger.info("job %s: another run holds it; skipped", name)
            return SKIPPED
        job = JobRun.objects.create(name=name, holder=holder)
        try:
            outcome, summary = body()
        except Exception as exc:  # noqa: BLE001 — recorded for staff; the next run tries again
            logger.exception("job %s failed", name)
            outcome, summary = JobRun.ERROR, f"{type(exc).__name__}: {exc}"
        JobRun.objects.filter(pk=job.pk).update(outcome=outcome, summary=summary[-20000:],
                                                finished_at=timezone.now())
        job.refresh_from_db()
        return job


def command(name, *args):
    """A body running management command `name`: ok with its output, problems when it exits non-zero."""
    def body():
        out = io.StringIO()
        try:
            call_command(name, *args, stdout=out, stderr=out)
        except CommandError as exc:
            return JobRun.PROBLEMS, f"{out.getvalue()}{exc}"
        return JobRun.OK, out.getvalue()

    return body


def reconcile_payments():
    return run("reconcile_payments", command("reconcile_payments"), lease_seconds=600)


def cancel_unpaid_orders():
    return run("cancel_unpaid_orders",
               command("cancel_unpaid_orders", "--older-than", str(settings.SHOP_CANCEL_UNPAID_AFTER_MINUTES)),
               lease_seconds=900)


def checkpoint_ledger():
    return run("checkpoint_ledger", command("checkpoint_ledger"), lease_seconds=3600)


def record_ledger_head():
    return run("record_ledger_head", command("record_ledger_head"), lease_seconds=600)


def verify_ledger():
    """The ledger's invariants, checked and kept (shown on the fundraising overview); any violation is
    emailed to SHOP_ALERT_EMAIL."""
    def body():
        from fundraising import services

        check = services.record_verification()
        if check.clean:
            return JobRun.OK, f"ledger OK: {check.transactions} transactions"
        alert_staff(subject=f"P6 ledger check: {check.violation_count} violation(s)",
                    body=f"verify_ledger found {check.violation_count} violation(s) at "
                         f"{check.checked_at:%Y-%m-%d %H:%M} UTC (first {min(check.violation_count, 200)} below). "
                         f"The fundraising overview shows them; "
                         f"run `python manage.py verify_ledger` for the full list.\n\n{check.violations}\n")
        return JobRun.PROBLEMS, f"{check.violation_count} violation(s)\n{check.violations}"

    return run("verify_ledger", body, lease_seconds=3600)


def sweep():
    """Re-enqueue work a lost message left behind: webhook events never processed and overdue retries,
    owed emails never sent (older than SHOP_SWEEP_AFTER_SECONDS, so work in flight is left alone)."""
    def body():
        from shop.jobs import outbox, queue
        from shop.jobs import tasks as job_tasks
        from shop.payments import tasks as payment_tasks
        from shop.payments import webhooks

        older_than = settings.SHOP_SWEEP_AFTER_SECONDS
        events = list(webhooks.left_behind(older_than=older_than))
        emails = list(outbox.left_behind(older_than=older_than))
        for pk in events:
            queue.send(payment_tasks.process_webhook_event, pk)
        for pk in emails:
            queue.send(job_tasks.deliver_email, pk)
        return JobRun.OK, f"re-enqueued {len(events)} webhook event(s), {len(emails)} email(s)"

    return run("sweep", body, lease_seconds=300)


def alert_staff(*, subject, body):
    """Email SHOP_ALERT_EMAIL (when set); a mail outage is logged, never raised (the job's record stays)."""
    to = [a.strip() for a in settings.SHOP_ALERT_EMAIL.split(",") if a.strip()]
    if not to:
        logger.error("%s (SHOP_ALERT_EMAIL is not set: nobody emailed)", subject)
        return
    try:
        send_mail(subject, body, None, to)
    except Exception:  # noqa: BLE001
        logger.exception("alert not emailed: %s", subject)
