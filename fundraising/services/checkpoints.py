"""Balance checkpoints: cumulative totals per (account, kind) that keep balances fast.

``take_balance_checkpoint`` is run by a scheduled job (``checkpoint_ledger``); the selectors read
balances as the latest checkpoint plus the entries after it.
"""

import logging
from collections import defaultdict

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Max, Sum

from fundraising.models import BalanceCheckpoint, CheckpointTotal, Entry
from fundraising.services.ledger import ZERO

logger = logging.getLogger(__name__)

CHECKPOINT_LOCK_TIMEOUT = "2s"


def take_balance_checkpoint():
    """Record cumulative totals per (account, kind) up to the highest committed entry id; return it.

    Invariant: a checkpoint covering ``id <= N`` is only taken once no entry with an id ``<= N`` can
    still commit, so "checkpoint + entries with a higher id" is exact. On PostgreSQL ids are drawn from
    a sequence at INSERT time and may commit out of order, so N is read under a brief
    ``LOCK TABLE ... IN SHARE MODE``: it waits for the transactions inserting entries to finish and
    blocks new inserts only while the maximum id is read. SQLite has one writer at a time and ids are
    assigned under its lock, so the maximum committed id is already safe. Totals are then summed
    incrementally from the previous checkpoint, outside the lock. Returns the previous checkpoint when
    there is nothing new (None on an empty ledger) or when the lock was not granted within
    ``CHECKPOINT_LOCK_TIMEOUT`` (a long transaction inserting entries: sales must not queue behind us).
    Schedule it (cron, ``manage.py checkpoint_ledger``) so balances and statements stay fast.
    """
    previous = BalanceCheckpoint.objects.order_by("-upto_entry_id").first()
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    # Bounded: while we wait, new inserts queue behind us; better skip this checkpoint.
                    cursor.execute(f"SET LOCAL lock_timeout = '{CHECKPOINT_LOCK_TIMEOUT}'")
                    cursor.execute(f"LOCK TABLE {Entry._meta.db_table} IN SHARE MODE")
            upto = Entry.objects.aggregate(upto=Max("id"))["upto"] or 0
    except OperationalError:
        logger.warning("balance checkpoint skipped: entries stayed locked longer than %s", CHECKPOINT_LOCK_TIMEOUT)
        return previous
    start = previous.upto_entry_id if previous else 0
    if upto <= start:
        return previous
    totals = defaultdict(lambda: [ZERO, ZERO])
    max_posted_at = previous.max_posted_at if previous else None
    if previous is not None:
        for row in previous.totals.values("account_id", "kind", "debit", "credit"):
            totals[(row["account_id"], row["kind"])] = [row["debit"], row["credit"]]
    for row in (
        Entry.objects.filter(id__gt=start, id__lte=upto)
        .values("account_id", "transaction__kind")
        .annotate(debit=Sum("debit"), credit=Sum("credit"), last=Max("posted_at"))
        .order_by()
    ):
        total = totals[(row["account_id"], row["transaction__kind"])]
        total[0] += row["debit"]
        total[1] += row["credit"]
        if max_posted_at is None or row["last"] > max_posted_at:
            max_posted_at = row["last"]
    try:
        with transaction.atomic():
            checkpoint = BalanceCheckpoint.objects.create(upto_entry_id=upto, max_posted_at=max_posted_at)
            CheckpointTotal.objects.bulk_create(
                CheckpointTotal(checkpoint=checkpoint, account_id=account_id, kind=kind, debit=debit, credit=credit)
                for (account_id, kind), (debit, credit) in sorted(totals.items())
            )
    except IntegrityError:
        # Another process took the same checkpoint at the same time: same totals, keep theirs.
        return BalanceCheckpoint.objects.get(upto_entry_id=upto)
    return checkpoint
