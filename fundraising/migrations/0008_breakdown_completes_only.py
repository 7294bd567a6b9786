"""A breakdown row is written once at placement and completed once at payment; nothing else (issue 17, item 4).

Database triggers refuse, on both vendors, any UPDATE of an order line's breakdown except the completion of an
incomplete row (fee share, fee flag, profit, donation and completion time filled from empty, every input
unchanged), and any DELETE (on SQLite Django's flush still passes, as in 0002). A row rewritten in place, as an
insider would with a plain UPDATE, is refused here and, were the triggers switched off, reported by verify_ledger
against its Oscar order line. The SQL is frozen here on purpose.
"""

from django.db import migrations

TABLE = "fundraising_orderlinebreakdown"
INPUTS = ("id", "line_id", "order_id", "currency", "quantity", "revenue_excl_tax", "unit_cost", "unit_cost_missing",
          "rule_id", "share_bps", "snapshotted_at", "snapshotted_late")
COMPLETION = ("fee_share", "fee_estimated", "profit", "donation", "completed_at")


def _refused(distinct):
    """The condition of a refused UPDATE, with ``distinct`` the vendor's null-safe "differs" operator."""
    changed_input = " OR ".join(f"NEW.{c} {distinct} OLD.{c}" for c in INPUTS)
    overwritten = " OR ".join(f"(OLD.{c} IS NOT NULL AND NEW.{c} {distinct} OLD.{c})" for c in COMPLETION)
    return f"OLD.completed_at IS NOT NULL OR {changed_input} OR {overwritten}"


POSTGRES_INSTALL = [
    f"""
    CREATE OR REPLACE FUNCTION fundraising_breakdown_completes_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION '{TABLE} is append-only: DELETE refused' USING ERRCODE = 'restrict_violation';
        END IF;
        IF {_refused("IS DISTINCT FROM")} THEN
            RAISE EXCEPTION '{TABLE}: only the completion of an incomplete row is allowed'
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END
    $$
    """,
    f"""
    CREATE TRIGGER {TABLE}_completes_only BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION fundraising_breakdown_completes_only()
    """,
]
POSTGRES_UNINSTALL = [
    f"DROP TRIGGER IF EXISTS {TABLE}_completes_only ON {TABLE}",
    "DROP FUNCTION IF EXISTS fundraising_breakdown_completes_only()",
]
SQLITE_INSTALL = [
    f"""
    CREATE TRIGGER {TABLE}_completes_only BEFORE UPDATE ON {TABLE}
    WHEN {_refused("IS NOT")}
    BEGIN SELECT RAISE(ABORT, '{TABLE}: only the completion of an incomplete row is allowed'); END
    """,
    f"""
    CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON {TABLE}
    WHEN NOT fundraising_flush_in_progress()
    BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: DELETE refused'); END
    """,
]
SQLITE_UNINSTALL = [f"DROP TRIGGER IF EXISTS {TABLE}_completes_only", f"DROP TRIGGER IF EXISTS {TABLE}_no_delete"]


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"postgresql": POSTGRES_INSTALL, "sqlite": SQLITE_INSTALL}.get(vendor, []):
        schema_editor.execute(statement, params=None)


def uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"postgresql": POSTGRES_UNINSTALL, "sqlite": SQLITE_UNINSTALL}.get(vendor, []):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("fundraising", "0007_public_chain")]

    operations = [migrations.RunPython(install, uninstall, elidable=False)]
