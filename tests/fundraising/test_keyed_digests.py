"""Ledger digests are keyed (issue 17, item 4): a row rewritten with the triggers off cannot be re-sealed without
P6_LEDGER_KEY, and migration 0010 re-seals the unkeyed (v1) digests of an existing ledger once it has checked them."""

import importlib
from decimal import Decimal as D
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core import checks
from django.db import connection
from django.utils import timezone

from fundraising import services
from fundraising.models import Beneficiary, Entry, LedgerTransaction, transaction_digest
from fundraising.verification import ledger_violations
from tests.fundraising.dashboard_support import load_sales

reseal = importlib.import_module("fundraising.migrations.0010_keyed_digests").reseal


@pytest.fixture
def payout(p6_catalogue):
    load_sales(4, refund_rate=0.0, seed=3)
    return services.record_disbursement(
        beneficiary=Beneficiary.objects.get(slug="sphere-foundation"), amount=D("5.00"), currency="USD",
        paid_on=timezone.now().date(), reference="wire-1",
    ).transaction


def _lift_update_triggers(cursor):
    """What an insider with the database's owner rights does first; returns what ``_restore_update_triggers`` needs."""
    if connection.vendor == "sqlite":
        cursor.execute("SELECT sql FROM sqlite_master WHERE name IN "
                       "('fundraising_entry_no_update', 'fundraising_ledgertransaction_no_update')")
        saved = [sql for (sql,) in cursor.fetchall()]
        cursor.execute("DROP TRIGGER fundraising_entry_no_update")
        cursor.execute("DROP TRIGGER fundraising_ledgertransaction_no_update")
        return saved
    else:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE fundraising_entry DISABLE TRIGGER fundraising_entry_append_only")
        cursor.execute("ALTER TABLE fundraising_ledgertransaction DISABLE TRIGGER "
                       "fundraising_ledgertransaction_append_only")
        return []


def _restore_update_triggers(cursor, saved):
    if connection.vendor == "sqlite":
        for sql in saved:
            cursor.execute(sql)
    else:
        cursor.execute("ALTER TABLE fundraising_entry ENABLE TRIGGER fundraising_entry_append_only")
        cursor.execute("ALTER TABLE fundraising_ledgertransaction ENABLE TRIGGER "
                       "fundraising_ledgertransaction_append_only")


def _digest_of(txn, **kwargs):
    return transaction_digest(
        kind=txn.kind, idempotency_key=txn.idempotency_key, currency=txn.currency, order_id=txn.order_id,
        reference=txn.reference, basis_amount=txn.basis_amount, memo=txn.memo, posted_at=txn.posted_at,
        created_by_id=txn.created_by_id,
        entries=[(e.account_id, e.debit, e.credit) for e in Entry.objects.filter(transaction=txn)], **kwargs,
    )


def test_a_digest_is_an_hmac_keyed_with_p6_ledger_key(payout, settings):
    assert _digest_of(payout) == payout.digest
    assert _digest_of(payout, version="v1") != payout.digest
    settings.FUNDRAISING_LEDGER_KEY = "another key"
    assert _digest_of(payout) != payout.digest
    assert "append-only: transaction %d (%s) or its entries changed after posting" % (
        payout.pk, payout.idempotency_key) in list(ledger_violations())


@pytest.mark.django_db
@pytest.mark.parametrize("forger", ["unkeyed sha-256", "a guessed key"])
def test_a_payout_rewritten_and_resealed_without_the_key_is_reported(payout, forger):
    # given an insider rewrites the 5.00 payout to 4.00 with the triggers off and recomputes its digest
    with connection.cursor() as cursor:
        _lift_update_triggers(cursor)
        cursor.execute("UPDATE fundraising_entry SET debit = 4.00 WHERE transaction_id = %s AND debit = 5.00",
                       [payout.pk])
        cursor.execute("UPDATE fundraising_entry SET credit = 4.00 WHERE transaction_id = %s AND credit = 5.00",
                       [payout.pk])
        cursor.execute("UPDATE fundraising_ledgertransaction SET basis_amount = 4.00 WHERE id = %s", [payout.pk])
        payout.refresh_from_db()
        forged = (_digest_of(payout, version="v1") if forger == "unkeyed sha-256"
                  else _digest_of(payout, key=b"guessed"))
        cursor.execute("UPDATE fundraising_ledgertransaction SET digest = %s WHERE id = %s", [forged, payout.pk])
    assert sorted(Entry.objects.filter(transaction=payout).values_list("debit", "credit")) == [
        (D("0.00"), D("4.00")), (D("4.00"), D("0.00"))]

    # then verify_ledger names the transaction (and the triggers switched off, and the public chain's mismatch)
    problems = list(ledger_violations())
    assert f"append-only: transaction {payout.pk} ({payout.idempotency_key}) or its entries changed after posting" \
        in problems
    assert any("trigger fundraising_entry" in p for p in problems)
    assert any(p.startswith("public chain: link") and f"ledger transaction {payout.pk}" in p for p in problems)


@pytest.mark.django_db
def test_migration_0010_reseals_checked_unkeyed_digests_and_refuses_a_changed_row(payout):
    # given a ledger sealed before migration 0010 (unkeyed v1 digests)
    transactions = list(LedgerTransaction.objects.order_by("id"))
    assert len(transactions) == 5  # 4 sales and the payout
    with connection.cursor() as cursor:
        saved = _lift_update_triggers(cursor)
        for txn in transactions:
            cursor.execute("UPDATE fundraising_ledgertransaction SET digest = %s WHERE id = %s",
                           [_digest_of(txn, version="v1"), txn.pk])
        # and one of them changed since it was sealed
        cursor.execute("UPDATE fundraising_ledgertransaction SET memo = 'rewritten' WHERE id = %s", [payout.pk])
        _restore_update_triggers(cursor, saved)
    before = dict(LedgerTransaction.objects.values_list("id", "digest"))
    editor = SimpleNamespace(connection=connection)

    # when the migration runs, it refuses, naming the changed one, and re-seals nothing
    with pytest.raises(RuntimeError, match=f"ledger transaction {payout.pk} .* does not match its digest"):
        reseal(apps, editor)
    assert dict(LedgerTransaction.objects.values_list("id", "digest")) == before

    # and once that row is put back, every digest is re-sealed with the key and verifies
    with connection.cursor() as cursor:
        saved = _lift_update_triggers(cursor)
        cursor.execute("UPDATE fundraising_ledgertransaction SET memo = %s WHERE id = %s", [payout.memo, payout.pk])
        _restore_update_triggers(cursor, saved)
    reseal(apps, editor)
    after = dict(LedgerTransaction.objects.values_list("id", "digest"))
    assert after == {txn.pk: txn.digest for txn in transactions}
    assert list(ledger_violations()) == []  # the triggers it lifted are back too
    # and run again (the migration reversed and re-applied), it leaves the keyed digests as they are
    reseal(apps, editor)
    assert dict(LedgerTransaction.objects.values_list("id", "digest")) == after


def test_check_deploy_warns_when_the_ledger_key_is_derived_from_secret_key(settings):
    settings.FUNDRAISING_LEDGER_KEY = ""
    assert [m.id for m in checks.run_checks(include_deployment_checks=True) if m.id.startswith("fundraising")] == [
        "fundraising.W001"]
    settings.FUNDRAISING_LEDGER_KEY = "k" * 40
    assert [m.id for m in checks.run_checks(include_deployment_checks=True) if m.id.startswith("fundraising")] == []
