"""The ledger is append-only in the ORM and in the database; PostgreSQL refuses unbalanced transactions."""

from decimal import Decimal as D

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from fundraising.exceptions import AppendOnlyError
from fundraising.models import Account, BreakdownPart, Disbursement, Entry, LedgerTransaction, OrderLineBreakdown
from fundraising.verification import ledger_violations
from tests.fundraising import support


def _raw(sql, params=()):
    # A savepoint, so that PostgreSQL's aborted statement does not poison the test's transaction.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE fundraising_entry SET credit = credit + 1",
        "DELETE FROM fundraising_entry",
        "UPDATE fundraising_ledgertransaction SET memo = 'rewritten'",
        "DELETE FROM fundraising_ledgertransaction",
        "UPDATE fundraising_breakdownpart SET amount = 0",
        "DELETE FROM fundraising_breakdownpart",
    ],
)
def test_the_database_refuses_update_and_delete(paid_order, sql):
    before = list(Entry.objects.values_list("id", "debit", "credit"))
    memos = list(LedgerTransaction.objects.values_list("memo", flat=True))

    with pytest.raises(IntegrityError, match="append-only"):
        _raw(sql)

    assert list(Entry.objects.values_list("id", "debit", "credit")) == before
    assert list(LedgerTransaction.objects.values_list("memo", flat=True)) == memos


def test_the_database_refuses_deleting_a_disbursement(paid_order, beneficiaries):
    import datetime as dt

    from fundraising import services

    services.record_disbursement(beneficiary=beneficiaries[0], amount=D("1.00"), currency="USD",
                                 paid_on=dt.date(2024, 1, 1), reference="w")
    with pytest.raises(IntegrityError, match="append-only"):
        _raw("DELETE FROM fundraising_disbursement")
    assert Disbursement.objects.count() == 1


def test_the_orm_refuses_queryset_update_and_delete(paid_order):
    before = support.ledger_counts()
    txn = LedgerTransaction.objects.get()

    with pytest.raises(AppendOnlyError):
        Entry.objects.update(credit=D("0"))
    with pytest.raises(AppendOnlyError):
        Entry.objects.filter(transaction=txn).delete()
    with pytest.raises(AppendOnlyError):
        txn.entries.all().delete()
    with pytest.raises(AppendOnlyError):
        LedgerTransaction.objects.filter(pk=txn.pk).update(memo="rewritten")
    with pytest.raises(AppendOnlyError):
        LedgerTransaction.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        BreakdownPart.objects.update(amount=D("0"))
    with pytest.raises(AppendOnlyError):
        Entry.objects.bulk_update(list(Entry.objects.all()), ["credit"])

    assert support.ledger_counts() == before


def test_the_orm_refuses_saving_or_deleting_an_existing_row(paid_order):
    txn = LedgerTransaction.objects.get()
    entry = txn.entries.first()
    breakdown = OrderLineBreakdown.objects.first()

    txn.memo = "rewritten"
    with pytest.raises(AppendOnlyError):
        txn.save()
    with pytest.raises(AppendOnlyError):
        txn.delete()
    entry.credit = D("1")
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        breakdown.save()

    assert LedgerTransaction.objects.get().memo != "rewritten"


def test_an_order_with_ledger_history_cannot_be_deleted(paid_order):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        paid_order.delete()


def test_verify_reports_a_missing_trigger_and_a_row_changed_behind_its_back(paid_order):
    # given someone drops a trigger and edits an entry (in a savepoint rolled back below: DDL is
    # transactional on both vendors, and PostgreSQL forgets the deferred checks queued inside it)
    with transaction.atomic():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("DROP TRIGGER fundraising_entry_append_only ON fundraising_entry")
            else:
                cursor.execute("DROP TRIGGER fundraising_entry_no_update")
            cursor.execute("UPDATE fundraising_entry SET credit = 6.99 WHERE id = "
                           "(SELECT MIN(id) FROM fundraising_entry WHERE credit = 5.99)")

        violations = list(ledger_violations())
        transaction.set_rollback(True)

    # then verify names each broken invariant
    assert any("trigger fundraising_entry" in v and "missing" in v for v in violations)
    assert any("does not balance" in v for v in violations)
    assert any("changed after posting" in v for v in violations)
    assert list(ledger_violations()) == []


@support.postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_refuses_an_unbalanced_transaction_at_commit(beneficiaries):
    account = Account.objects.create(kind="payable", beneficiary=beneficiaries[0], currency="USD")
    donations = Account.objects.create(kind="donations", currency="USD")

    # when entries that do not sum to zero are committed (bypassing the services' own check)
    with pytest.raises(IntegrityError, match="does not sum to zero"):
        with transaction.atomic():
            txn = LedgerTransaction.objects.create(kind="adjustment", idempotency_key="adjustment:bad",
                                                   currency="USD", digest="-")
            Entry.objects.create(transaction=txn, account=donations, currency="USD", debit=D("1.00"),
                                 posted_at=txn.posted_at)
            Entry.objects.create(transaction=txn, account=account, currency="USD", credit=D("0.99"),
                                 posted_at=txn.posted_at)

    # then the commit is refused and nothing is written
    assert LedgerTransaction.objects.count() == 0 and Entry.objects.count() == 0

    # and a balanced one commits
    with transaction.atomic():
        txn = LedgerTransaction.objects.create(kind="adjustment", idempotency_key="adjustment:good",
                                               currency="USD", digest="-")
        Entry.objects.create(transaction=txn, account=donations, currency="USD", debit=D("1.00"),
                             posted_at=txn.posted_at)
        Entry.objects.create(transaction=txn, account=account, currency="USD", credit=D("1.00"),
                             posted_at=txn.posted_at)
    assert Entry.objects.count() == 2


@support.postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_refuses_entries_in_another_currency_at_commit(beneficiaries):
    usd = Account.objects.create(kind="payable", beneficiary=beneficiaries[0], currency="USD")
    eur = Account.objects.create(kind="donations", currency="EUR")
    with pytest.raises(IntegrityError, match="mixes currencies"):
        with transaction.atomic():
            txn = LedgerTransaction.objects.create(kind="adjustment", idempotency_key="adjustment:mixed",
                                                   currency="USD", digest="-")
            Entry.objects.create(transaction=txn, account=eur, currency="USD", debit=D("1.00"),
                                 posted_at=txn.posted_at)
            Entry.objects.create(transaction=txn, account=usd, currency="USD", credit=D("1.00"),
                                 posted_at=txn.posted_at)
    assert LedgerTransaction.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_transactional_test_with_ledger_rows_is_flushed_on_either_vendor(beneficiaries, shirt, pin):
    # given committed ledger rows: pytest-django flushes them after this test (TRUNCATE on PostgreSQL,
    # DELETE with the SQLite DELETE triggers lifted by the flush command, see fundraising.db); a refused
    # flush would make this test error in its teardown
    from fundraising import services

    services.set_share_rule(share_bps=5000, weights=[(b, 1) for b in beneficiaries])
    order = support.place_order((shirt, 1))
    support.pay(order, fee=D("1.03"))
    assert Entry.objects.count() == 4

    # and the hatch is closed for ordinary code
    with pytest.raises((IntegrityError, DatabaseError)):
        _raw("DELETE FROM fundraising_entry")
    assert Entry.objects.count() == 4


@pytest.mark.django_db(transaction=True)
def test_flush_empties_the_ledger_and_puts_every_trigger_back(beneficiaries, shirt, pin):
    from django.core.management import call_command

    from fundraising import services
    from fundraising.db import expected_triggers, installed_triggers

    services.set_share_rule(share_bps=5000, weights=[(b, 1) for b in beneficiaries])
    support.pay(support.place_order((shirt, 1)), fee=D("1.03"))
    assert LedgerTransaction.objects.count() == 1

    call_command("flush", interactive=False, verbosity=0)

    assert (LedgerTransaction.objects.count(), Entry.objects.count(), OrderLineBreakdown.objects.count()) == (0, 0, 0)
    assert installed_triggers(connection) == expected_triggers(connection.vendor)
    # and the triggers it put back refuse a DELETE of the next sale's rows
    services.set_share_rule(share_bps=5000, weights=[(b, 1) for b in support.make_beneficiaries()])
    support.pay(support.place_order((support.make_stockrecord("25.00", cost="10.00"), 1)), fee=D("1.03"))
    for table in ("fundraising_entry", "fundraising_ledgertransaction", "fundraising_orderlinebreakdown"):
        with pytest.raises((IntegrityError, DatabaseError)):
            _raw(f"DELETE FROM {table}")
    assert (LedgerTransaction.objects.count(), Entry.objects.count()) == (1, 4)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's DELETE triggers only")
@pytest.mark.django_db
def test_a_sqlite_client_defining_the_old_flush_function_still_cannot_delete(paid_order):
    # given a client that defines the function the DELETE triggers used to consult (before migration 0009)
    connection.ensure_connection()
    connection.connection.create_function("fundraising_flush_in_progress", 0, lambda: 1)
    counts = (LedgerTransaction.objects.count(), Entry.objects.count(), OrderLineBreakdown.objects.count())
    assert counts[0] > 0

    # when it deletes ledger rows, then every DELETE is refused and nothing is gone
    for table in ("fundraising_entry", "fundraising_ledgertransaction", "fundraising_orderlinebreakdown",
                  "fundraising_chainlink"):
        with pytest.raises(IntegrityError, match="DELETE refused"):
            _raw(f"DELETE FROM {table}")
    assert (LedgerTransaction.objects.count(), Entry.objects.count(),
            OrderLineBreakdown.objects.count()) == counts

