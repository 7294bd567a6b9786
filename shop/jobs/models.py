"""Background work's own records.

- OutgoingEmail: every email the shop owes a fan, written in the transaction that owes it (the outbox):
  a task sends it after the commit and marks it sent; the sweep sends what a lost message left behind.
  Its `key` makes it owed once (`paid:<order>`, `refund:<refund id>`, `placed:<order>`).
- JobLock: one row per periodic job; a job runs only while it holds the row's lease, so any number of
  beat schedulers and workers on any number of machines run each job once at a time.
- JobRun: what each run of a periodic job did (started, finished, outcome, summary), for staff.
"""

from django.db import models


class OutgoingEmail(models.Model):
    PLACED, PAID, REFUND = "placed", "paid", "refund"
    KINDS = [(PLACED, "order placed, waiting for payment"), (PAID, "order paid"), (REFUND, "refund made")]
    PENDING, SENT, FAILED = "pending", "sent", "failed"
    STATUSES = [(s, s) for s in (PENDING, SENT, FAILED)]

    key = models.CharField(max_length=255, unique=True)
    kind = models.CharField(max_length=16, choices=KINDS)
    object_pk = models.BigIntegerField(help_text="the order's pk (placed, paid) or the StripeRefund's (refund)")
    status = models.CharField(max_length=16, choices=STATUSES, default=PENDING)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self):
        return f"{self.key} {self.status}"


class JobLock(models.Model):
    name = models.CharField(max_length=64, primary_key=True)
    holder = models.CharField(max_length=128, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.name} held by {self.holder or 'nobody'} until {self.locked_until}"


class JobRun(models.Model):
    RUNNING, OK, PROBLEMS, ERROR = "running", "ok", "problems", "error"
    OUTCOMES = [(s, s) for s in (RUNNING, OK, PROBLEMS, ERROR)]

    name = models.CharField(max_length=64)
    holder = models.CharField(max_length=128)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=OUTCOMES, default=RUNNING)
    summary = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["name", "-started_at"])]

    def __str__(self):
        return f"{self.name} {self.started_at:%Y-%m-%d %H:%M} {self.outcome}"
