"""Refunds and lost disputes reverse the donation pro-rata, once per key, never beyond what was posted.

The paid order: 62.00 captured; donation 17.96 = Alpha 5.99, Beta 5.99, Gamma 5.98; line 1 (2 shirts)
gave 4.72 to each, line 2 (1 pin) gave 1.27 / 1.27 / 1.26.
"""

from decimal import Decimal as D

import pytest

from fundraising import services
from fundraising.exceptions import IdempotencyConflict, SaleNotPosted
from fundraising.models import Entry, LedgerTransaction, ReversalLine, ReversalLinePart
from fundraising.selectors import beneficiary_balances
from fundraising.verification import ledger_violations
from tests.fundraising import support


def _reversed(order):
    """Total reversed so far per beneficiary slug."""
    totals = {}
    for entry in Entry.objects.filter(transaction__order=order, transaction__kind__in=["refund", "dispute"],
                                      debit__gt=0):
        slug = entry.account.beneficiary.slug
        totals[slug] = totals.get(slug, D("0")) + entry.debit
    return totals


def test_partial_refund_reverses_its_share(paid_order):
    # when half the order is refunded
    txn = services.post_reversal(order=paid_order, key="refund:re_1", kind="refund", amount=D("31.00"))

    # then half the donation (8.98) is reversed, the odd cent to Alpha (tie broken by beneficiary order)
    assert (txn.kind, txn.reference, txn.basis_amount) == ("refund", "re_1", D("31.00"))
    assert support.entries_of(txn) == {
        ("payable:alpha-group", "debit"): D("3.00"),
        ("payable:beta-group", "debit"): D("2.99"),
        ("payable:gamma-group", "debit"): D("2.99"),
        ("campaign:donations", "credit"): D("8.98"),
    }
    assert list(ledger_violations()) == []


def test_two_partial_refunds_adding_up_to_the_total_reverse_exactly_what_was_posted(paid_order):
    services.post_reversal(order=paid_order, key="refund:re_1", kind="refund", amount=D("31.00"))
    second = services.post_reversal(order=paid_order, key="refund:re_2", kind="refund", amount=D("31.00"))

    assert support.entries_of(second) == {
        ("payable:alpha-group", "debit"): D("2.99"),
        ("payable:beta-group", "debit"): D("3.00"),
        ("payable:gamma-group", "debit"): D("2.99"),
        ("campaign:donations", "credit"): D("8.98"),
    }
    assert _reversed(paid_order) == {"alpha-group": D("5.99"), "beta-group": D("5.99"), "gamma-group": D("5.98")}
    assert [b.payable for b in beneficiary_balances(currency="USD")] == [D("0.00")] * 3
    assert list(ledger_violations()) == []


def test_full_refund_in_three_steps_with_rounding(paid_order):
    for n, amount in enumerate(["10.00", "10.00", "42.00"]):
        services.post_reversal(order=paid_order, key=f"refund:re_{n}", kind="refund", amount=D(amount))
    assert _reversed(paid_order) == {"alpha-group": D("5.99"), "beta-group": D("5.99"), "gamma-group": D("5.98")}
    assert list(ledger_violations()) == []


def test_refund_replay_writes_nothing(paid_order):
    first = services.post_reversal(order=paid_order, key="refund:re_1", kind="refund", amount=D("31.00"))
    before = support.ledger_counts()

    again = services.post_reversal(order=paid_order, key="refund:re_1", kind="refund", amount=D("31.00"))

    assert again.pk == first.pk
    assert support.ledger_counts() == before


def test_a_refund_key_reused_for_another_order_is_a_conflict(paid_order, shirt):
    other = support.place_order((shirt, 1))
    support.pay(other, fee=D("1.03"))
    services.post_reversal(order=paid_order, key="refund:re_1", kind="refund", amount=D("1.00"))
    before = support.ledger_counts()

    with pytest.raises(IdempotencyConflict):
        services.post_reversal(order=other, key="refund:re_1", kind="refund", amount=D("1.00"))
    with pytest.raises(IdempotencyConflict):
        services.post_reversal(order=paid_order, key="refund:re_1", kind="dispute", amount=D("1.00"))
    assert support.ledger_counts() == before


def test_refunds_beyond_the_captured_total_are_capped(paid_order):
    # when more than was captured is refunded
    first = services.post_reversal(order=paid_order, key="refund:re_1", kind="refund", amount=D("100.00"))
    # then everything posted is reversed, no more, and the memo says it was capped
    assert sum(e.credit for e in Entry.objects.filter(transaction=first)) == D("17.96")
    assert "capped" in first.memo

    # and a further refund is recorded with nothing left to reverse
    second = services.post_reversal(order=paid_order, key="refund:re_2", kind="refund", amount=D("5.00"))
    assert Entry.objects.filter(transaction=second).count() == 0
    assert _reversed(paid_order) == {"alpha-group": D("5.99"), "beta-group": D("5.99"), "gamma-group": D("5.98")}
    assert list(ledger_violations()) == []


def test_lost_dispute_reverses_like_a_refund(paid_order):
    txn = services.post_reversal(order=paid_order, key="dispute:dp_1", kind="dispute", amount=D("62.00"))

    assert (txn.kind, txn.reference) == ("dispute", "dp_1")
    assert support.entries_of(txn) == {
        ("payable:alpha-group", "debit"): D("5.99"),
        ("payable:beta-group", "debit"): D("5.99"),
        ("payable:gamma-group", "debit"): D("5.98"),
        ("campaign:donations", "credit"): D("17.96"),
    }
    balances = beneficiary_balances(currency="USD")
    assert [(b.earned, b.reversed, b.payable) for b in balances] == [
        (D("5.99"), D("5.99"), D("0.00")), (D("5.99"), D("5.99"), D("0.00")), (D("5.98"), D("5.98"), D("0.00"))
    ]


def test_refund_by_lines_reverses_those_lines_pro_rata_to_quantity(paid_order):
    shirts, pin = paid_order.lines.order_by("pk")

    # when one of the two shirts is refunded
    first = services.post_reversal(order=paid_order, key="refund:re_1", kind="refund", amount=D("25.00"),
                                   line_quantities={shirts.pk: 1})
    # then half of the shirts' parts (4.72 each) is reversed
    assert support.entries_of(first) == {
        ("payable:alpha-group", "debit"): D("2.36"),
        ("payable:beta-group", "debit"): D("2.36"),
        ("payable:gamma-group", "debit"): D("2.36"),
        ("campaign:donations", "credit"): D("7.08"),
    }
    assert list(ReversalLine.objects.values_list("line_id", "quantity")) == [(shirts.pk, 1)]

    # when the pin and the other shirt are refunded
    second = services.post_reversal(order=paid_order, key="refund:re_2", kind="refund", amount=D("37.00"),
                                    line_quantities={shirts.pk: 1, pin.pk: 1})
    assert support.entries_of(second) == {
        ("payable:alpha-group", "debit"): D("3.63"),
        ("payable:beta-group", "debit"): D("3.63"),
        ("payable:gamma-group", "debit"): D("3.62"),
        ("campaign:donations", "credit"): D("10.88"),
    }
    # then everything is reversed, line by line
    assert _reversed(paid_order) == {"alpha-group": D("5.99"), "beta-group": D("5.99"), "gamma-group": D("5.98")}
    assert ReversalLinePart.objects.count() == 9
    assert list(ledger_violations()) == []


def test_refund_by_lines_is_capped_at_the_line_quantity(paid_order):
    shirts, _ = paid_order.lines.order_by("pk")
    services.post_reversal(order=paid_order, key="refund:re_1", kind="refund", amount=D("50.00"),
                           line_quantities={shirts.pk: 2})

    again = services.post_reversal(order=paid_order, key="refund:re_2", kind="refund", amount=D("25.00"),
                                   line_quantities={shirts.pk: 1})

    assert Entry.objects.filter(transaction=again).count() == 0
    assert "0 of 2 left" in again.memo
    assert list(ReversalLine.objects.values_list("line_id", "quantity")) == [(shirts.pk, 2)]
    assert list(ledger_violations()) == []


def test_pro_rata_then_by_line_never_exceeds_what_was_posted(paid_order):
    shirts, pin = paid_order.lines.order_by("pk")
    services.post_reversal(order=paid_order, key="refund:re_1", kind="refund", amount=D("31.00"))
    services.post_reversal(order=paid_order, key="refund:re_2", kind="refund", amount=D("62.00"),
                           line_quantities={shirts.pk: 2, pin.pk: 1})

    assert _reversed(paid_order) == {"alpha-group": D("5.99"), "beta-group": D("5.99"), "gamma-group": D("5.98")}
    assert list(ledger_violations()) == []


def test_bad_line_quantities_are_refused_and_nothing_is_written(paid_order, shirt):
    other = support.place_order((shirt, 1))
    foreign_line = other.lines.get()
    before = support.ledger_counts()
    for bad in ({foreign_line.pk: 1}, {paid_order.lines.first().pk: 0}, {}, [1]):
        with pytest.raises(ValueError):
            services.post_reversal(order=paid_order, key="refund:re_bad", kind="refund", amount=D("1.00"),
                                   line_quantities=bad)
    assert support.ledger_counts() == before


def test_bad_kind_key_or_amount_is_refused(paid_order):
    before = support.ledger_counts()
    for kwargs in (
        {"kind": "chargeback", "key": "refund:x", "amount": D("1.00")},
        {"kind": "refund", "key": "", "amount": D("1.00")},
        {"kind": "refund", "key": "refund:x", "amount": D("0.00")},
        {"kind": "refund", "key": "refund:x", "amount": D("0.001")},
    ):
        with pytest.raises(ValueError):
            services.post_reversal(order=paid_order, **kwargs)
    assert support.ledger_counts() == before


def test_refund_of_an_unpaid_order_is_refused(order):
    before = support.ledger_counts()
    with pytest.raises(SaleNotPosted):
        services.post_reversal(order=order, key="refund:re_1", kind="refund", amount=D("1.00"))
    assert support.ledger_counts() == before


def test_refund_after_payout_takes_what_the_payable_holds_and_records_the_rest_as_receivable(paid_order, beneficiaries):
    alpha = beneficiaries[0]
    # given Alpha's 5.99 was paid out already
    import datetime as dt

    services.record_disbursement(beneficiary=alpha, amount=D("5.99"), currency="USD", paid_on=dt.date(2024, 3, 1),
                                 reference="wire-1")

    # when the whole order is refunded
    txn = services.post_reversal(order=paid_order, key="refund:re_1", kind="refund", amount=D("62.00"))

    # then Alpha's payable stays at 0 and its 5.99 goes to its receivable
    assert support.entries_of(txn) == {
        ("receivable:alpha-group", "debit"): D("5.99"),
        ("payable:beta-group", "debit"): D("5.99"),
        ("payable:gamma-group", "debit"): D("5.98"),
        ("campaign:donations", "credit"): D("17.96"),
    }
    assert "already disbursed" in txn.memo
    alpha_balance = beneficiary_balances(currency="USD")[0]
    assert (alpha_balance.earned, alpha_balance.reversed, alpha_balance.disbursed, alpha_balance.payable,
            alpha_balance.receivable) == (D("5.99"), D("5.99"), D("5.99"), D("0.00"), D("5.99"))
    assert LedgerTransaction.objects.filter(kind="refund").count() == 1
    assert list(ledger_violations()) == []
