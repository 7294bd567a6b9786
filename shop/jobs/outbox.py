"""The emails the shop owes its fans, sent off the request (DESIGN "Background work").

`owe()` records an email in the transaction that owes it (one row per key: owed once, however often the
payment or refund is applied) and enqueues its delivery on commit. `deliver()` sends it with the bounded
SMTP timeout (EMAIL_TIMEOUT) and marks it sent; a failure is retried with backoff, then marked failed with
the error. Delivery is at least once: a crash between the SMTP server's acceptance and the row's update
sends that email again on the retry (the row lock keeps two workers from sending it together).
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from shop.jobs.models import OutgoingEmail
from shop.jobs.queue import backoff_seconds, enqueue

logger = logging.getLogger("shop.jobs")

# Each kind's sender takes the object's pk and raises when the email could not be sent. Named, not
# imported: the senders live in the apps that own the emails, which import this module.
SENDERS = {
    OutgoingEmail.PLACED: ("shop.checkout.emails.send_pending_order_email", "order_pk"),
    OutgoingEmail.PAID: ("shop.payments.services.capture.send_paid_email", "order_pk"),
    OutgoingEmail.REFUND: ("shop.payments.services.refunds.send_refund_email", "refund_pk"),
}


class RetryLater(Exception):
    """The email was not sent; try again in `seconds`."""

    def __init__(self, seconds):
        super().__init__(f"retry in {seconds} s")
        self.seconds = seconds


def owe(*, kind, object_pk, key):
    """Record that the email `key` is owed and send it once the current transaction commits. A key
    already owed (sent or not) is left as it is. Returns the OutgoingEmail."""
    try:
        with transaction.atomic():
            email, created = OutgoingEmail.objects.get_or_create(key=key, defaults={"kind": kind,
                                                                                   "object_pk": object_pk})
    except IntegrityError:  # owed by a concurrent transaction
        return OutgoingEmail.objects.get(key=key)
    if created:
        from shop.jobs import tasks

        enqueue(tasks.deliver_email, email.pk)
    return email


def deliver(*, pk):
    """Send the owed email `pk` unless it is sent already. Raises RetryLater when it should be tried
    again; after SHOP_EMAIL_MAX_ATTEMPTS failures it is marked failed (staff see it) and not retried."""
    with transaction.atomic():
        email = OutgoingEmail.objects.select_for_update().get(pk=pk)
        if email.status != OutgoingEmail.PENDING:
            return email
        try:
            sender, argument = SENDERS[email.kind]
            with transaction.atomic():  # a savepoint: a database error in the sender leaves the row writable
                import_string(sender)(**{argument: email.object_pk})
        except Exception as exc:  # noqa: BLE001 — SMTP refused, timed out, template error: retried, recorded
            logger.warning("email %s not sent (attempt %d): %s", email.key, email.attempts + 1, exc)
            email.attempts += 1
            email.error = f"{type(exc).__name__}: {exc}"[:2000]
            if email.attempts >= settings.SHOP_EMAIL_MAX_ATTEMPTS:
                email.status, email.next_attempt_at = OutgoingEmail.FAILED, None
                email.save()
                return email
            # Capped below the broker's visibility timeout (3600 s), after which Redis would deliver it twice.
            wait = backoff_seconds(email.attempts, base=settings.SHOP_EMAIL_RETRY_SECONDS, cap=1800)
            email.next_attempt_at = timezone.now() + timedelta(seconds=wait)
            email.save()
        else:
            email.status, email.sent_at, email.next_attempt_at = OutgoingEmail.SENT, timezone.now(), None
            email.attempts += 1  # the error of an earlier failed attempt stays, for the record
            email.save()
            return email
    raise RetryLater(wait)


def left_behind(*, older_than):
    """Pending emails whose delivery should have happened by now (a lost message, a dead worker)."""
    cutoff = timezone.now() - timedelta(seconds=older_than)
    pending = OutgoingEmail.objects.filter(status=OutgoingEmail.PENDING)
    return (pending.filter(next_attempt_at__isnull=True, created_at__lt=cutoff)
            | pending.filter(next_attempt_at__lt=cutoff)).values_list("pk", flat=True)


def send_again(*, pk):
    """Staff's "send again" of a failed email: pending again and sent now (inline without a broker)."""
    from shop.jobs import queue, tasks

    updated = OutgoingEmail.objects.filter(pk=pk, status=OutgoingEmail.FAILED).update(
        status=OutgoingEmail.PENDING, next_attempt_at=None)
    if updated:
        queue.send(tasks.deliver_email, pk)
    return OutgoingEmail.objects.get(pk=pk)
