"""Database-level protection of the ledger: trigger names, and the SQLite flush escape hatch.

Migration 0002 installs the triggers (its SQL is frozen there); this module knows their names, so
``verify_ledger`` can check they are all present, and it provides the one sanctioned way to empty the
ledger tables on SQLite.

Why a flush escape hatch: pytest-django's ``transaction=True`` tests (and ``manage.py flush``) empty
the database after each test. PostgreSQL does it with TRUNCATE, which fires no row trigger, so the
append-only triggers do not get in the way. SQLite has no TRUNCATE: Django's flush issues
``DELETE FROM`` per table, which the append-only triggers would refuse. So on SQLite the DELETE
triggers carry ``WHEN NOT fundraising_flush_in_progress()``: an application-defined SQL function
registered on every connection Django opens (``connection_created``), answering 1 only while
``flushing(connection)`` is active, which only our ``flush`` command override does. Any other
client (the sqlite3 shell, another program) has no such function, so its DELETE fails: the hatch is
closed by default. Both vendors thus behave alike: row edits refused, whole-database flush allowed.
"""

import weakref
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


def register_sqlite_functions(sender, connection, **kwargs):
    """``connection_created`` receiver: give each SQLite connection the flush-in-progress function."""
    if connection.vendor != "sqlite":
        return
    wrapper = weakref.ref(connection)  # the sqlite3 connection must not keep Django's wrapper alive

    def flush_in_progress():
        current = wrapper()
        return 1 if current is not None and getattr(current, _FLAG, False) else 0

    connection.connection.create_function(FLUSH_FUNCTION, 0, flush_in_progress)


@contextmanager
def flushing(connection):
    """Let this connection's DELETEs through the SQLite append-only triggers; for ``flush`` only."""
    previous = getattr(connection, _FLAG, False)
    setattr(connection, _FLAG, True)
    try:
        yield
    finally:
        setattr(connection, _FLAG, previous)
