"""Database enforcement of the ledger's invariants (DESIGN "The ledger"), per vendor.

- PostgreSQL: a BEFORE UPDATE OR DELETE row trigger on every append-only table; a DEFERRABLE
  INITIALLY DEFERRED constraint trigger on entries that refuses, at commit, a transaction whose entries
  do not sum to zero per currency, or whose entries are not in the transaction's and account's currency.
  TRUNCATE fires no row trigger, so ``flush`` (and pytest-django's transactional tests) still work.
- SQLite: BEFORE UPDATE and BEFORE DELETE triggers; the DELETE ones let Django's ``flush`` through
  (``fundraising.db``: the per-connection function ``fundraising_flush_in_progress()``; without it, as in
  the sqlite3 shell, the DELETE fails). SQLite has no deferred triggers: zero-sum is checked by the
  services before writing and by ``verify_ledger``.

The SQL is frozen here on purpose (migrations are history). On SQLite, a later migration that alters one
of these tables rebuilds it and loses its triggers: it must run ``SQLITE_INSTALL`` again.
"""

from django.db import migrations

APPEND_ONLY_TABLES = (
    "fundraising_ledgertransaction",
    "fundraising_entry",
    "fundraising_disbursement",
    "fundraising_breakdownpart",
    "fundraising_reversalline",
    "fundraising_reversallinepart",
)

POSTGRES_INSTALL = [
    """
    CREATE OR REPLACE FUNCTION fundraising_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% is append-only: % refused (post a reversing transaction instead)',
            TG_TABLE_NAME, TG_OP USING ERRCODE = 'restrict_violation';
    END
    $$
    """,
    *[
        f"""
        CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
        FOR EACH ROW EXECUTE FUNCTION fundraising_refuse_change()
        """
        for table in APPEND_ONLY_TABLES
    ],
    """
    CREATE OR REPLACE FUNCTION fundraising_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        unbalanced record;
    BEGIN
        SELECT currency, SUM(debit) AS debit, SUM(credit) AS credit INTO unbalanced
        FROM fundraising_entry WHERE transaction_id = NEW.transaction_id
        GROUP BY currency HAVING SUM(debit) <> SUM(credit) LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'ledger transaction % does not sum to zero in %: debits %, credits %',
                NEW.transaction_id, unbalanced.currency, unbalanced.debit, unbalanced.credit
                USING ERRCODE = 'check_violation';
        END IF;
        IF EXISTS (
            SELECT 1 FROM fundraising_entry e
            JOIN fundraising_ledgertransaction t ON t.id = e.transaction_id
            JOIN fundraising_account a ON a.id = e.account_id
            WHERE e.transaction_id = NEW.transaction_id AND (e.currency <> t.currency OR e.currency <> a.currency)
        ) THEN
            RAISE EXCEPTION 'ledger transaction % mixes currencies', NEW.transaction_id
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE CONSTRAINT TRIGGER fundraising_entry_balanced AFTER INSERT ON fundraising_entry
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fundraising_check_balanced()
    """,
]

POSTGRES_UNINSTALL = [
    "DROP TRIGGER IF EXISTS fundraising_entry_balanced ON fundraising_entry",
    *[f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}" for table in APPEND_ONLY_TABLES],
    "DROP FUNCTION IF EXISTS fundraising_check_balanced()",
    "DROP FUNCTION IF EXISTS fundraising_refuse_change()",
]

SQLITE_INSTALL = [
    statement
    for table in APPEND_ONLY_TABLES
    for statement in (
        f"""
        CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
        BEGIN SELECT RAISE(ABORT, '{table} is append-only: UPDATE refused'); END
        """,
        f"""
        CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
        WHEN NOT fundraising_flush_in_progress()
        BEGIN SELECT RAISE(ABORT, '{table} is append-only: DELETE refused'); END
        """,
    )
]

SQLITE_UNINSTALL = [
    f"DROP TRIGGER IF EXISTS {table}_no_{op}" for table in APPEND_ONLY_TABLES for op in ("update", "delete")
]


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"postgresql": POSTGRES_INSTALL, "sqlite": SQLITE_INSTALL}.get(vendor, []):
        schema_editor.execute(statement, params=None)


def uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"postgresql": POSTGRES_UNINSTALL, "sqlite": SQLITE_UNINSTALL}.get(vendor, []):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("fundraising", "0001_initial")]

    operations = [migrations.RunPython(install, uninstall, elidable=False)]
