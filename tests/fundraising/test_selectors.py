"""Balances and statements, with and without checkpoints: the same exact figures either way."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.utils import timezone

from fundraising import services
from fundraising.models import BalanceCheckpoint, CheckpointTotal, Entry
from fundraising.selectors import beneficiary_balances, statement
from fundraising.verification import ledger_violations
from tests.fundraising import support


def _figures(currency="USD"):
    return [(b.beneficiary.slug, b.earned, b.reversed, b.disbursed, b.payable)
            for b in beneficiary_balances(currency=currency)]


def test_balances_of_a_fresh_ledger_are_zero(beneficiaries):
    assert _figures() == [(b.slug, D("0.00"), D("0.00"), D("0.00"), D("0.00")) for b in beneficiaries]


def test_balances_add_sales_reversals_and_disbursements(paid_order, beneficiaries):
    services.post_reversal(order=paid_order, key="refund:re_1", kind="refund", amount=D("31.00"))
    services.record_disbursement(beneficiary=beneficiaries[1], amount=D("1.00"), currency="USD",
                                 paid_on=dt.date(2024, 1, 1), reference="w1")

    assert _figures() == [
        ("alpha-group", D("5.99"), D("3.00"), D("0.00"), D("2.99")),
        ("beta-group", D("5.99"), D("2.99"), D("1.00"), D("2.00")),
        ("gamma-group", D("5.98"), D("2.99"), D("0.00"), D("2.99")),
    ]
    assert _figures("EUR") == [(b.slug, D("0.00"), D("0.00"), D("0.00"), D("0.00")) for b in beneficiaries]


def test_checkpoint_plus_later_entries_gives_the_same_balances(paid_order, beneficiaries, shirt):
    services.post_reversal(order=paid_order, key="refund:re_1", kind="refund", amount=D("31.00"))
    expected_then = _figures()

    # when a checkpoint is taken, then more is posted
    checkpoint = services.take_balance_checkpoint()
    assert checkpoint.upto_entry_id == Entry.objects.order_by("-id").first().pk
    assert _figures() == expected_then
    second = support.place_order((shirt, 1))
    support.pay(second, fee=D("1.03"))

    # then balances are the checkpoint plus the new entries, exactly
    assert _figures() == [
        ("alpha-group", D("8.32"), D("3.00"), D("0.00"), D("5.32")),
        ("beta-group", D("8.32"), D("2.99"), D("0.00"), D("5.33")),
        ("gamma-group", D("8.31"), D("2.99"), D("0.00"), D("5.32")),
    ]
    # and a second checkpoint carries the totals forward; a third with nothing new is the same one
    latest = services.take_balance_checkpoint()
    assert latest.upto_entry_id > checkpoint.upto_entry_id
    assert services.take_balance_checkpoint().pk == latest.pk
    assert BalanceCheckpoint.objects.count() == 2
    # (donations, payable of each beneficiary) × (sale, refund)
    assert CheckpointTotal.objects.filter(checkpoint=latest).count() == 8
    assert list(ledger_violations()) == []


def test_checkpoint_of_an_empty_ledger_is_none(db):
    assert services.take_balance_checkpoint() is None


def test_statement_has_opening_entries_and_closing(paid_order, beneficiaries, shirt):
    alpha = beneficiaries[0]
    services.take_balance_checkpoint()
    start = timezone.now()
    services.post_reversal(order=paid_order, key="refund:re_1", kind="refund", amount=D("31.00"))
    second = support.place_order((shirt, 1))
    support.pay(second, fee=D("1.03"))
    end = timezone.now()

    report = statement(beneficiary=alpha, currency="USD", start=start, end=end)

    assert (report.opening, report.total_debit, report.total_credit, report.closing) == (
        D("5.99"), D("3.00"), D("2.33"), D("5.32")
    )
    assert [(e.transaction.kind, e.debit, e.credit) for e in report.entries] == [
        ("refund", D("3.00"), D("0")), ("sale", D("0"), D("2.33"))
    ]


def test_statement_by_whole_days(paid_order, beneficiaries):
    today = timezone.now().date()
    report = statement(beneficiary=beneficiaries[0], currency="USD", start=today, end=today)
    assert (report.opening, report.closing, len(report.entries)) == (D("0.00"), D("5.99"), 1)
    later = statement(beneficiary=beneficiaries[0], currency="USD", start=today + dt.timedelta(days=1),
                      end=today + dt.timedelta(days=2))
    assert (later.opening, later.closing, len(later.entries)) == (D("5.99"), D("5.99"), 0)


def test_statement_of_a_beneficiary_without_account(beneficiaries):
    today = timezone.now().date()
    report = statement(beneficiary=beneficiaries[0], currency="USD", start=today, end=today)
    assert (report.account, report.opening, report.closing, list(report.entries)) == (None, D("0.00"), D("0.00"), [])


def test_statement_refuses_an_end_before_its_start(beneficiaries):
    today = timezone.now().date()
    with pytest.raises(ValueError):
        statement(beneficiary=beneficiaries[0], currency="USD", start=today, end=today - dt.timedelta(days=2))
