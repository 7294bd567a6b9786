"""Database-level protection of the ledger: trigger names, and the one sanctioned way to empty it on SQLite.

Migration 0002 installs the triggers (its SQL is frozen there, and in 0007-0009); this module knows their names,
so ``verify_ledger`` can check they are all present, and it lets ``flush`` empty the ledger tables on SQLite.

Why ``flush`` needs help: pytest-django's ``transaction=True`` tests (and ``manage.py flush``) empty the database
after each test. PostgreSQL does it with TRUNCATE, which fires no row trigger, so the append-only triggers do not
get in the way. SQLite has no TRUNCATE: Django's flush issues ``DELETE FROM`` per table, which the append-only
triggers refuse. Until migration 0009 the SQLite DELETE triggers carried ``WHEN NOT
fundraising_flush_in_progress()``, a function only Django's connections defined; but any client can define an SQL
function of that name, so that was an escape anyone could switch on. The triggers are now unconditional, and
``flush`` (our override, the only caller of ``delete_triggers_lifted``) drops the DELETE triggers, flushes and puts
back exactly what it dropped, all in one transaction: doing the same by hand needs DDL, which is the power to drop a
trigger anyway, and a trigger left dropped is reported by ``verify_ledger``.
"""

from contextlib import contextmanager

FLUSH_FUNCTION = "fundraising_flush_in_progress"
_FLAG = "_fundraising_flush_in_progress"

#: Tables whose rows are never updated or deleted.
APPEND_ONLY_TABLES = (
    "fundraising_ledgertransaction",
    "fundraising_entry",
    "fundraising_disbursement",
    "fundraising_breakdownpart",
    "fundraising_reversalline",
    "fundraising_reversallinepart",
    # the public chain (migration 0007)
    "fundraising_chainlink",
    "fundraising_chainhead",
    # partners' posted report lines (migration 0011)
    "fundraising_partnersaleline",
    "fundraising_partnersalelinepart",
)
ENTRY_TABLE = "fundraising_entry"
#: Written at placement, completed once at payment, never changed after (migration 0008).
BREAKDOWN_TABLE = "fundraising_orderlinebreakdown"
BALANCED_TRIGGER = "fundraising_entry_balanced"


def expected_triggers(vendor):
    """Names of the triggers migration 0002 installs on this database vendor."""
    if vendor == "postgresql":
        return {f"{table}_append_only" for table in APPEND_ONLY_TABLES} | {BALANCED_TRIGGER} \
            | {f"{BREAKDOWN_TABLE}_completes_only"}
    if vendor == "sqlite":
        return {f"{table}_no_{op}" for table in APPEND_ONLY_TABLES for op in ("update", "delete")} \
            | {f"{BREAKDOWN_TABLE}_completes_only", f"{BREAKDOWN_TABLE}_no_delete"}
    return set()


def installed_triggers(connection):
    """Names of the fundraising triggers present in the database (enabled ones only on PostgreSQL)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D' "
                "AND tgname LIKE 'fundraising%'"
            )
        elif connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'fundraising%'")
        else:
            return set()
        return {row[0] for row in cursor.fetchall()}


@contextmanager
def delete_triggers_lifted(connection):
    """SQLite: drop the ledger's DELETE triggers for the block, then re-create exactly those; for ``flush`` only.

    Run it inside the transaction that does the DELETEs, so that a failure anywhere leaves the triggers as they were.
    """
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'fundraising%'")
        lifted = [(name, sql) for name, sql in cursor.fetchall() if name.endswith("_no_delete")]
        for name, _ in lifted:
            cursor.execute(f'DROP TRIGGER "{name}"')
    try:
        yield
    finally:
        present = installed_triggers(connection)
        with connection.cursor() as cursor:
            for name, sql in lifted:
                if name not in present:
                    cursor.execute(sql)
