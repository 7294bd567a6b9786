"""Ledger digests keyed: every transaction re-sealed with HMAC-SHA256 (issue 17, item 4).

Until now a digest was a plain SHA-256 of the transaction and its entries: an insider able to switch the triggers
off could rewrite a row and recompute its digest, and ``verify_ledger`` stayed clean. From here on a digest is an
HMAC keyed with ``P6_LEDGER_KEY`` (``fundraising.models.ledger.transaction_digest``, version v2), which the database
does not hold. This migration checks every existing transaction against its unkeyed digest first and stops, changing
nothing, if one does not match (run ``verify_ledger``: the ledger was changed behind its back); then it re-seals
each one with the key, with the append-only UPDATE trigger lifted for this transaction only. A transaction sealed
with the key already is left as it is, so reversing this migration (which keeps the keyed digests) and applying it
again is safe. Run it with the production ``P6_LEDGER_KEY`` in the environment.
"""

from django.db import migrations

TABLE = "fundraising_ledgertransaction"


def _digest(txn, entries, version):
    from fundraising.models.ledger import transaction_digest

    return transaction_digest(
        kind=txn.kind, idempotency_key=txn.idempotency_key, currency=txn.currency, order_id=txn.order_id,
        reference=txn.reference, basis_amount=txn.basis_amount, memo=txn.memo, posted_at=txn.posted_at,
        created_by_id=txn.created_by_id, entries=entries, version=version,
    )


def reseal(apps, schema_editor):
    LedgerTransaction = apps.get_model("fundraising", "LedgerTransaction")
    Entry = apps.get_model("fundraising", "Entry")
    entries = {}
    for transaction_id, account_id, debit, credit in Entry.objects.values_list(
            "transaction_id", "account_id", "debit", "credit").order_by("id"):
        entries.setdefault(transaction_id, []).append((account_id, debit, credit))
    resealed = []
    for txn in LedgerTransaction.objects.order_by("id"):
        lines = entries.get(txn.id, [])
        if _digest(txn, lines, "v2") == txn.digest:
            continue  # sealed with the key already (the migration was reversed, which keeps the keyed digests)
        if _digest(txn, lines, "v1") != txn.digest:
            raise RuntimeError(
                f"ledger transaction {txn.id} ({txn.idempotency_key}) does not match its digest: it was changed "
                "after posting; nothing was re-sealed (see verify_ledger)"
            )
        resealed.append((txn.id, _digest(txn, lines, "v2")))
    if not resealed:
        return
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER {TABLE}_append_only")
        elif connection.vendor == "sqlite":
            cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = %s",
                           [f"{TABLE}_no_update"])
            (trigger_sql,) = cursor.fetchone() or (None,)  # None: already dropped (verify_ledger reports that)
            if trigger_sql:
                cursor.execute(f"DROP TRIGGER {TABLE}_no_update")
        for pk, digest in resealed:
            cursor.execute(f"UPDATE {TABLE} SET digest = %s WHERE id = %s", [digest, pk])
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER {TABLE}_append_only")
        elif connection.vendor == "sqlite" and trigger_sql:
            cursor.execute(trigger_sql)


class Migration(migrations.Migration):
    dependencies = [("fundraising", "0009_sqlite_delete_triggers_unconditional")]

    # One way: the unkeyed digests are not kept.
    operations = [migrations.RunPython(reseal, migrations.RunPython.noop, elidable=False)]
