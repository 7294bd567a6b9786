"""One run at a time of each periodic job, across every machine (DESIGN "Background work").

A job's run holds a lease on its JobLock row: taken by one conditional UPDATE (whoever's UPDATE matches
the free or expired row wins; the database serialises the rest), released when the run ends. A worker
that dies mid-run leaves the lease to expire after `seconds`, so a crash delays the job and never stops
it. The database rather than Redis: the lease then holds on SQLite and PostgreSQL alike, with no broker.
"""

import os
import socket
import uuid
from contextlib import contextmanager
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from shop.jobs.models import JobLock


def holder_name():
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(name, *, seconds, holder):
    """Take the lease on `name` for `seconds` if it is free or expired; True when taken."""
    now = timezone.now()
    try:
        with transaction.atomic():
            JobLock.objects.get_or_create(name=name)
    except IntegrityError:  # created by a concurrent first run
        pass
    taken = JobLock.objects.filter(name=name).filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now)).update(
        holder=holder, locked_until=now + timedelta(seconds=seconds))
    return taken == 1


def release(name, *, holder):
    JobLock.objects.filter(name=name, holder=holder).update(holder="", locked_until=None)


@contextmanager
def lease(name, *, seconds):
    """`with lease("job", seconds=300) as held:` — held is False when another run holds it."""
    holder = holder_name()
    held = acquire(name, seconds=seconds, holder=holder)
    try:
        yield holder if held else None
    finally:
        if held:
            release(name, holder=holder)
