"""Disbursements never exceed the payable; adjustments need a reason and balanced entries."""

import datetime as dt
from decimal import Decimal as D

import pytest

from fundraising import services
from fundraising.exceptions import IdempotencyConflict, InsufficientPayable, MissingReason, UnbalancedTransaction
from fundraising.models import Account, Disbursement
from fundraising.selectors import beneficiary_balances
from fundraising.services import EntrySpec
from fundraising.verification import ledger_violations
from tests.fundraising import support

PAID_ON = dt.date(2024, 3, 1)


def _payable(beneficiary):
    return Account.objects.get(kind="payable", beneficiary=beneficiary, currency="USD")


def test_disbursement_debits_payable_and_credits_disbursed(paid_order, beneficiaries):
    alpha = beneficiaries[0]

    disbursement = services.record_disbursement(
        beneficiary=alpha, amount=D("5.00"), currency="USD", paid_on=PAID_ON, reference="wire-1"
    )

    assert (disbursement.amount, disbursement.paid_on, disbursement.reference) == (D("5.00"), PAID_ON, "wire-1")
    assert support.entries_of(disbursement.transaction) == {
        ("payable:alpha-group", "debit"): D("5.00"),
        ("disbursed:alpha-group", "credit"): D("5.00"),
    }
    alpha_balance = beneficiary_balances(currency="USD")[0]
    assert (alpha_balance.earned, alpha_balance.disbursed, alpha_balance.payable) == (D("5.99"), D("5.00"), D("0.99"))
    assert list(ledger_violations()) == []


def test_disbursement_over_the_payable_is_refused_and_nothing_is_written(paid_order, beneficiaries):
    before = support.ledger_counts()

    with pytest.raises(InsufficientPayable, match="payable balance is 5.99 USD"):
        services.record_disbursement(beneficiary=beneficiaries[0], amount=D("6.00"), currency="USD",
                                     paid_on=PAID_ON, reference="wire-1")

    assert support.ledger_counts() == before


def test_disbursement_to_a_beneficiary_with_nothing_payable_is_refused(beneficiaries):
    before = support.ledger_counts()
    with pytest.raises(InsufficientPayable):
        services.record_disbursement(beneficiary=beneficiaries[0], amount=D("0.01"), currency="EUR",
                                     paid_on=PAID_ON, reference="wire-1")
    assert support.ledger_counts() == before


def test_the_same_payout_recorded_twice_is_recorded_once(paid_order, beneficiaries):
    first = services.record_disbursement(beneficiary=beneficiaries[0], amount=D("2.00"), currency="USD",
                                         paid_on=PAID_ON, reference="wire-1")
    before = support.ledger_counts()

    again = services.record_disbursement(beneficiary=beneficiaries[0], amount=D("2.00"), currency="USD",
                                         paid_on=PAID_ON, reference="wire-1")
    assert again.pk == first.pk and support.ledger_counts() == before
    with pytest.raises(IdempotencyConflict):
        services.record_disbursement(beneficiary=beneficiaries[0], amount=D("3.00"), currency="USD",
                                     paid_on=PAID_ON, reference="wire-1")
    assert Disbursement.objects.count() == 1


def test_bad_disbursement_arguments_are_refused(paid_order, beneficiaries):
    before = support.ledger_counts()
    for kwargs in (
        {"amount": D("0.00"), "reference": "w", "paid_on": PAID_ON},
        {"amount": D("1.001"), "reference": "w", "paid_on": PAID_ON},
        {"amount": D("1.00"), "reference": " ", "paid_on": PAID_ON},
        {"amount": D("1.00"), "reference": "w", "paid_on": "2024-03-01"},
    ):
        with pytest.raises(ValueError):
            services.record_disbursement(beneficiary=beneficiaries[0], currency="USD", **kwargs)
    assert support.ledger_counts() == before


def test_adjustment_moves_money_with_a_reason(paid_order, beneficiaries):
    alpha, beta, _ = beneficiaries

    txn = services.post_adjustment(
        entries=[EntrySpec(_payable(alpha), D("1.00"), D("0")), EntrySpec(_payable(beta), D("0"), D("1.00"))],
        reason="Alpha asked that its share of order 1 go to Beta",
        currency="USD",
    )

    assert txn.kind == "adjustment" and txn.idempotency_key.startswith("adjustment:")
    assert txn.memo == "Alpha asked that its share of order 1 go to Beta"
    balances = beneficiary_balances(currency="USD")
    assert [(b.adjusted, b.payable) for b in balances[:2]] == [(D("-1.00"), D("4.99")), (D("1.00"), D("6.99"))]
    assert list(ledger_violations()) == []


def test_adjustment_without_reason_is_refused_and_nothing_is_written(paid_order, beneficiaries):
    alpha, beta, _ = beneficiaries
    entries = [(_payable(alpha), D("1.00"), D("0")), (_payable(beta), D("0"), D("1.00"))]
    before = support.ledger_counts()

    for reason in ("", "   ", None):
        with pytest.raises(MissingReason):
            services.post_adjustment(entries=entries, reason=reason, currency="USD")

    assert support.ledger_counts() == before


def test_unbalanced_or_malformed_adjustment_is_refused(paid_order, beneficiaries):
    alpha, beta, _ = beneficiaries
    before = support.ledger_counts()
    for entries in (
        [(_payable(alpha), D("1.00"), D("0")), (_payable(beta), D("0"), D("0.99"))],
        [(_payable(alpha), D("1.00"), D("1.00")), (_payable(beta), D("0"), D("0"))],
        [(_payable(alpha), D("1.00"), D("0"))],
    ):
        with pytest.raises(UnbalancedTransaction):
            services.post_adjustment(entries=entries, reason="test", currency="USD")
    with pytest.raises(UnbalancedTransaction):
        services.post_adjustment(entries=[(_payable(alpha), D("1.00"), D("0")), (_payable(beta), D("0"), D("1.00"))],
                                 reason="wrong currency", currency="EUR")
    assert support.ledger_counts() == before


def test_adjustment_cannot_take_a_payable_below_zero(paid_order, beneficiaries):
    alpha, beta, _ = beneficiaries
    before = support.ledger_counts()
    with pytest.raises(InsufficientPayable):
        services.post_adjustment(
            entries=[(_payable(alpha), D("6.00"), D("0")), (_payable(beta), D("0"), D("6.00"))],
            reason="too much", currency="USD",
        )
    assert support.ledger_counts() == before


def test_adjustment_with_a_given_key_is_posted_once(paid_order, beneficiaries):
    alpha, beta, _ = beneficiaries
    entries = [(_payable(alpha), D("1.00"), D("0")), (_payable(beta), D("0"), D("1.00"))]
    first = services.post_adjustment(entries=entries, reason="once", currency="USD",
                                     idempotency_key="adjustment:ticket-7")
    before = support.ledger_counts()

    again = services.post_adjustment(entries=entries, reason="once", currency="USD",
                                     idempotency_key="adjustment:ticket-7")

    assert again.pk == first.pk and support.ledger_counts() == before
