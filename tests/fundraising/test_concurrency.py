"""Races between real database connections (threads): PostgreSQL only, skipped visibly on SQLite.

``transaction=True``: every thread commits through its own connection, as concurrent requests and
webhooks do; pytest-django empties the tables afterwards with TRUNCATE (no row trigger fires).
"""

import datetime as dt
import threading
from decimal import Decimal as D

import pytest
from django.db import connection
from oscar.core.loading import get_model

from fundraising import services
from fundraising.exceptions import InsufficientPayable
from fundraising.models import BreakdownPart, Entry, LedgerTransaction
from fundraising.money import Fee
from fundraising.selectors import beneficiary_balances
from fundraising.services import checkpoints
from fundraising.verification import ledger_violations
from tests.fundraising import support
from tests.racing import race

Order = get_model("order", "Order")

pytestmark = [support.postgres_only, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def committed_order(beneficiaries, shirt, pin):
    services.set_share_rule(share_bps=5000, weights=[(b, 1) for b in beneficiaries],
                            valid_from=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))
    return support.place_order((shirt, 2), (pin, 1))


def test_the_same_order_captured_from_ten_threads_gives_one_sale(committed_order):
    def capture():
        order = Order.objects.get(pk=committed_order.pk)
        return services.post_sale(order=order, fee=Fee(D("2.10"), estimated=False)).pk

    results = race(*[capture] * 10)

    assert all(isinstance(result, int) for result in results), results
    assert len(set(results)) == 1
    assert LedgerTransaction.objects.filter(kind="sale").count() == 1
    assert Entry.objects.count() == 4
    assert BreakdownPart.objects.count() == 6
    assert sum(e.credit for e in Entry.objects.all()) == D("17.96")
    support.book_payment(committed_order)
    Order.objects.filter(pk=committed_order.pk).update(status="Paid")
    assert list(ledger_violations()) == []


def test_different_orders_captured_at_once_all_post(beneficiaries, shirt, pin):
    services.set_share_rule(share_bps=5000, weights=[(b, 1) for b in beneficiaries],
                            valid_from=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))
    orders = [support.place_order((shirt, 1)) for _ in range(8)]

    def capture(order):
        return lambda: services.post_sale(order=Order.objects.get(pk=order.pk), fee=Fee(D("1.03"), estimated=False)).pk

    results = race(*[capture(order) for order in orders])

    assert all(isinstance(result, int) for result in results), results
    assert LedgerTransaction.objects.filter(kind="sale").count() == 8
    assert [b.earned for b in beneficiary_balances(currency="USD")] == [D("18.64")] * 3


@pytest.mark.parametrize("round_", range(4))
def test_a_disbursement_racing_a_refund_never_drives_a_payable_below_zero(committed_order, beneficiaries, round_):
    alpha = beneficiaries[0]
    support.pay(committed_order)  # Alpha's payable: 5.99

    def disburse():
        return services.record_disbursement(beneficiary=alpha, amount=D("5.99"), currency="USD",
                                            paid_on=dt.date(2024, 1, 1), reference="wire-1")

    def refund():
        order = Order.objects.get(pk=committed_order.pk)
        return services.post_reversal(order=order, key="refund:re_1", kind="refund", amount=D("62.00"))

    calls = (disburse, refund) if round_ % 2 == 0 else (refund, disburse)
    results = race(*calls)
    disbursed, refunded = (results if round_ % 2 == 0 else results[::-1])

    # then the refund is always posted, and either the payout went first (the refund's Alpha part went to
    # the receivable) or the refund did (the payout was refused): never a negative payable
    assert isinstance(refunded, LedgerTransaction), refunded
    alpha_balance = beneficiary_balances(currency="USD")[0]
    if isinstance(disbursed, InsufficientPayable):
        assert (alpha_balance.payable, alpha_balance.disbursed, alpha_balance.receivable) == (
            D("0.00"), D("0.00"), D("0.00"))
    else:
        assert not isinstance(disbursed, Exception), disbursed
        assert (alpha_balance.payable, alpha_balance.disbursed, alpha_balance.receivable) == (
            D("0.00"), D("5.99"), D("5.99"))
    assert list(ledger_violations()) == []


def test_a_checkpoint_does_not_keep_sales_waiting_behind_a_long_transaction(committed_order, monkeypatch):
    # given a capture whose transaction stays open after inserting its entries
    monkeypatch.setattr(checkpoints, "CHECKPOINT_LOCK_TIMEOUT", "200ms")
    inserted, release = threading.Event(), threading.Event()

    def slow_capture():
        from django.db import transaction

        with transaction.atomic():
            txn = services.post_sale(order=Order.objects.get(pk=committed_order.pk),
                                     fee=Fee(D("2.10"), estimated=False))
            inserted.set()
            release.wait(timeout=30)
        return txn.pk

    holder = threading.Thread(target=lambda: (slow_capture(), connection.close()))
    holder.start()
    assert inserted.wait(timeout=30)

    # when a checkpoint is attempted meanwhile, it gives up after the lock timeout instead of queueing
    try:
        assert services.take_balance_checkpoint() is None
    finally:
        release.set()
        holder.join(timeout=30)

    # and once the capture committed, the next checkpoint covers it
    assert services.take_balance_checkpoint().upto_entry_id == Entry.objects.order_by("-id").first().pk
