"""What staff read about background work (no writes)."""

from django.db.models import Count

from shop.jobs.models import JobRun, OutgoingEmail


def outgoing_emails(*, status=None):
    emails = OutgoingEmail.objects.order_by("-created_at", "-pk")
    return emails.filter(status=status) if status else emails


def outgoing_email_counts():
    counts = dict.fromkeys((s for s, _ in OutgoingEmail.STATUSES), 0)
    counts.update(OutgoingEmail.objects.values_list("status").annotate(n=Count("pk")).order_by())
    return counts


def job_runs(*, name=None):
    runs = JobRun.objects.order_by("-started_at", "-pk")
    return runs.filter(name=name) if name else runs


def latest_runs():
    """The latest run of each job that has run, by job name."""
    latest = {}
    for run in JobRun.objects.order_by("name", "-started_at", "-pk").iterator():
        latest.setdefault(run.name, run)
    return [latest[name] for name in sorted(latest)]
