"""Enqueue background work on commit (DESIGN "Background work").

With a broker (`CELERY_BROKER_URL`) the task is sent once the transaction commits, so a worker never
looks for a row that is not committed yet; without one (the demo default) the same task body runs inline
after the commit. Neither way raises into the caller: the work is recorded in the database before it is
enqueued (an event row, an outbox row), so a broker that cannot be reached, or a message lost in it,
delays the work until the periodic sweep sends it again, and never loses it.
"""

import logging

from django.conf import settings
from django.db import transaction

logger = logging.getLogger("shop.jobs")

# kombu's publish retry: a broker that is briefly away is retried, one that is down fails fast (the
# request that enqueued must not hang on it; the sweep sends the work later).
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


def broker_configured():
    return bool(getattr(settings, "CELERY_BROKER_URL", ""))


def enqueue(task, *args):
    """Run `task(*args)` in the background after the current transaction commits (now, outside one)."""
    transaction.on_commit(lambda: send(task, *args))


def send(task, *args, countdown=None):
    """Send `task(*args)` to the broker now, or run it inline when there is none. Never raises."""
    if not broker_configured():
        try:
            task.run(*args)
        except Exception:  # noqa: BLE001 — inline work failing must not fail the committed request
            logger.exception("%s%r failed inline; the sweep will try again", task.name, args)
        return False
    try:
        task.apply_async(args=args, countdown=countdown, retry=True, retry_policy=PUBLISH_RETRY)
    except Exception:  # noqa: BLE001 — broker down: the sweep sends it later
        logger.exception("%s%r could not be enqueued; the sweep will send it", task.name, args)
        return False
    return True


def backoff_seconds(attempt, *, base, cap):
    """Exponential backoff after the attempt-th failure (1-based): base, 2·base, 4·base… at most cap."""
    return min(cap, base * (2 ** max(0, attempt - 1)))
