"""SQLite's DELETE triggers refuse every DELETE again: no escape a client can switch on (issue 17, item 4).

Migrations 0002, 0007 and 0008 gave SQLite's DELETE triggers ``WHEN NOT fundraising_flush_in_progress()``, so
Django's flush (DELETE per table) could empty the ledger tables. Any client able to define an SQL function of that
name could switch the escape on for itself. The triggers are now unconditional; the ``flush`` command lifts them for
its own DELETEs and puts back exactly what it lifted (``fundraising.db.delete_triggers_lifted``), a schema change
that needs the same power as dropping a trigger, which ``verify_ledger`` reports when it is left undone.
Nothing changes on PostgreSQL (its flush is a TRUNCATE, which fires no row trigger).
"""

from django.db import migrations

CONDITION = "WHEN NOT fundraising_flush_in_progress()"


def _rewrite(schema_editor, old, new):
    if schema_editor.connection.vendor != "sqlite":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'fundraising%'")
        triggers = cursor.fetchall()
    for name, sql in triggers:
        if old in sql:
            schema_editor.execute(f"DROP TRIGGER {name}", params=None)
            schema_editor.execute(sql.replace(old, new), params=None)


def unconditional(apps, schema_editor):
    _rewrite(schema_editor, CONDITION, "")


def conditional(apps, schema_editor):
    # Back to 0008's state: the condition before each DELETE trigger's body.
    if schema_editor.connection.vendor != "sqlite":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'fundraising%_no_delete'")
        triggers = cursor.fetchall()
    for name, sql in triggers:
        schema_editor.execute(f"DROP TRIGGER {name}", params=None)
        schema_editor.execute(sql.replace("BEGIN", f"{CONDITION}\n        BEGIN", 1), params=None)


class Migration(migrations.Migration):
    dependencies = [("fundraising", "0008_breakdown_completes_only")]

    operations = [migrations.RunPython(unconditional, conditional, elidable=False)]
