"""Snapshot at placement and sale posting at capture, on real Oscar orders."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.utils import timezone

from fundraising import services
from fundraising.exceptions import IdempotencyConflict, RuleInUse
from fundraising.models import (
    Beneficiary,
    BreakdownPart,
    Entry,
    LedgerTransaction,
    OrderLineBreakdown,
    ShareRuleBeneficiary,
)
from fundraising.money import Fee
from fundraising.verification import ledger_violations
from tests.fundraising import support


def _new_beneficiary():
    return Beneficiary.objects.create(name="Delta Group", slug="delta-group", country="RU")


def _rows(order):
    return list(OrderLineBreakdown.objects.filter(order=order).order_by("line_id"))


def test_snapshot_records_revenue_cost_and_rule_in_force(rule, shirt, pin):
    # given a rule in force and two products with unit costs
    # when an order is placed and snapshotted
    order = support.place_order((shirt, 2), (pin, 1))

    # then each line has its snapshot, and nothing of the capture yet
    first, second = _rows(order)
    assert (first.quantity, first.revenue_excl_tax, first.unit_cost, first.share_bps, first.rule) == (
        2, D("50.00"), D("10.00"), 5000, rule
    )
    assert (second.quantity, second.revenue_excl_tax, second.unit_cost) == (1, D("12.00"), D("4.00"))
    assert first.currency == "USD" and not first.unit_cost_missing and not first.snapshotted_late
    assert (first.fee_share, first.profit, first.donation, first.completed_at) == (None, None, None, None)
    assert BreakdownPart.objects.count() == 0


def test_snapshot_twice_writes_nothing(order):
    before = support.ledger_counts()
    rows = services.snapshot_order(order=order)
    assert len(rows) == 2
    assert support.ledger_counts() == before


def test_post_sale_completes_breakdown_and_posts_exact_entries(order):
    # when the payment is captured with a 2.10 fee
    txn = services.post_sale(order=order, fee=Fee(D("2.10"), estimated=False))

    # then fees split 1.69/0.41 by revenue, profits 28.31/7.59, donations 14.16/3.80 (half-up)
    first, second = _rows(order)
    assert (first.fee_share, first.profit, first.donation, first.fee_estimated) == (
        D("1.69"), D("28.31"), D("14.16"), False
    )
    assert (second.fee_share, second.profit, second.donation) == (D("0.41"), D("7.59"), D("3.80"))
    # and 14.16 splits 4.72 each; 3.80 splits 1.27/1.27/1.26 (the remainder cent by beneficiary order)
    parts = [(p.breakdown.line_id, p.beneficiary.slug, p.weight, p.amount)
             for p in BreakdownPart.objects.select_related("breakdown", "beneficiary")
             .order_by("breakdown", "beneficiary")]
    assert [(slug, weight, amount) for _, slug, weight, amount in parts] == [
        ("alpha-group", 1, D("4.72")), ("beta-group", 1, D("4.72")), ("gamma-group", 1, D("4.72")),
        ("alpha-group", 1, D("1.27")), ("beta-group", 1, D("1.27")), ("gamma-group", 1, D("1.26")),
    ]
    # and one sale transaction debits donations 17.96 and credits each payable its parts
    assert (txn.kind, txn.idempotency_key, txn.order_id, txn.basis_amount) == (
        "sale", f"sale:{order.number}", order.pk, D("62.00"))
    assert support.entries_of(txn) == {
        ("campaign:donations", "debit"): D("17.96"),
        ("payable:alpha-group", "credit"): D("5.99"),
        ("payable:beta-group", "credit"): D("5.99"),
        ("payable:gamma-group", "credit"): D("5.98"),
    }
    assert "donation 17.96 USD" in txn.memo and "reported by the gateway" in txn.memo


def test_post_sale_without_fee_estimates_it_and_flags_it(order):
    # when the gateway reports no fee: 2.9 % of 62.00 + 0.30 = 2.098, rounded to 2.10
    txn = services.post_sale(order=order, fee=Fee(None, estimated=False))

    rows = _rows(order)
    assert [row.fee_share for row in rows] == [D("1.69"), D("0.41")]
    assert all(row.fee_estimated for row in rows)
    assert "estimated" in txn.memo
    assert sum(e.credit for e in Entry.objects.filter(transaction=txn)) == D("17.96")


def test_second_post_sale_returns_the_same_transaction_and_writes_nothing(paid_order):
    before = support.ledger_counts()
    first = LedgerTransaction.objects.get(kind="sale")

    again = services.post_sale(order=paid_order, fee=Fee(D("9.99"), estimated=True))

    assert again.pk == first.pk
    assert support.ledger_counts() == before
    assert [row.fee_share for row in _rows(paid_order)] == [D("1.69"), D("0.41")]


def test_loss_making_order_posts_a_sale_without_entries(rule):
    # given a product sold below cost
    record = support.make_stockrecord("10.00", cost="12.00")
    order = support.place_order((record, 1))

    # when it is paid
    txn = support.pay(order, fee=D("0.59"))

    # then the breakdown says profit 0, donation 0, parts 0, and the sale is recorded without entries
    (row,) = _rows(order)
    assert (row.profit, row.donation) == (D("0"), D("0"))
    assert sorted(BreakdownPart.objects.values_list("amount", flat=True)) == [D("0")] * 3
    assert txn.kind == "sale" and Entry.objects.filter(transaction=txn).count() == 0
    assert list(ledger_violations()) == []


def test_without_a_rule_the_share_is_zero_and_rows_are_still_written(db, shirt):
    order = support.place_order((shirt, 1))
    txn = support.pay(order)

    (row,) = _rows(order)
    assert (row.rule, row.share_bps, row.profit, row.donation) == (None, 0, D("12.90"), D("0"))
    assert BreakdownPart.objects.count() == 0 and Entry.objects.count() == 0
    assert "no share rule" in txn.memo
    assert list(ledger_violations()) == []


def test_missing_unit_cost_counts_as_zero_and_is_flagged(rule):
    record = support.make_stockrecord("20.00")  # no UnitCost row
    order = support.place_order((record, 1))
    txn = support.pay(order, fee=D("0.88"))

    (row,) = _rows(order)
    assert (row.unit_cost, row.unit_cost_missing, row.profit, row.donation) == (D("0"), True, D("19.12"), D("9.56"))
    assert f"unit cost missing (0 used) for lines {row.line_id}" in txn.memo


def test_discounted_line_uses_revenue_after_discount(rule, shirt):
    # given a 20 % site offer
    from oscar.test.factories import create_offer

    create_offer()
    order = support.place_order((shirt, 2), offers=True)

    # then revenue is 40.00, not 50.00
    txn = support.pay(order, fee=D("1.46"))
    (row,) = _rows(order)
    assert (row.revenue_excl_tax, row.profit, row.donation) == (D("40.00"), D("18.54"), D("9.27"))
    assert sum(e.debit for e in Entry.objects.filter(transaction=txn)) == D("9.27")


def test_a_new_rule_applies_to_later_orders_only(rule, beneficiaries, shirt):
    alpha, beta, _ = beneficiaries
    # given an order placed under the 50 % rule
    before = support.place_order((shirt, 1))

    # when the rule becomes 20 % for Alpha alone
    new = services.set_share_rule(share_bps=2000, weights=[(alpha, 1)])
    after = support.place_order((shirt, 1))

    # then the old rule is closed and each order keeps its own
    rule.refresh_from_db()
    assert rule.valid_to == new.valid_from
    support.pay(before, fee=D("1.03"))
    support.pay(after, fee=D("1.03"))
    assert _rows(before)[0].share_bps == 5000 and _rows(before)[0].donation == D("6.99")
    assert _rows(after)[0].share_bps == 2000 and _rows(after)[0].donation == D("2.79")
    assert list(BreakdownPart.objects.filter(breakdown__order=after).values_list("beneficiary__slug", "amount")) == [
        ("alpha-group", D("2.79"))
    ]


def test_a_used_rule_cannot_be_edited(paid_order, rule, beneficiaries):
    rule.share_bps = 100
    with pytest.raises(RuleInUse):
        rule.save()
    with pytest.raises(RuleInUse):
        ShareRuleBeneficiary.objects.create(rule=rule, beneficiary=_new_beneficiary(), weight=1)


def test_a_rule_cannot_start_before_an_existing_snapshot(order, beneficiaries):
    before = support.ledger_counts()
    with pytest.raises(ValueError, match="already snapshotted"):
        services.set_share_rule(share_bps=100, weights=[(beneficiaries[0], 1)],
                                valid_from=timezone.now() - dt.timedelta(hours=1))
    assert support.ledger_counts() == before


def test_order_placed_without_snapshot_is_snapshotted_at_capture_with_the_rule_of_its_placement(
        rule, shirt, beneficiaries):
    order = support.place_order((shirt, 1), snapshot=False)
    services.set_share_rule(share_bps=1000, weights=[(beneficiaries[0], 1)])

    support.pay(order, fee=D("1.03"))

    (row,) = _rows(order)
    assert (row.snapshotted_late, row.rule, row.share_bps, row.donation) == (True, rule, 5000, D("6.99"))


def test_a_sale_key_used_by_another_kind_is_a_conflict(order):
    LedgerTransaction.objects.create(kind="adjustment", idempotency_key=f"sale:{order.number}", currency="USD",
                                     digest="x")
    with pytest.raises(IdempotencyConflict):
        services.post_sale(order=order, fee=Fee(D("2.10"), estimated=False))


def test_bad_fee_is_refused_and_nothing_is_written(order):
    before = support.ledger_counts()
    with pytest.raises(TypeError):
        services.post_sale(order=order, fee=Fee(2.1, estimated=False))
    with pytest.raises(ValueError):
        services.post_sale(order=order, fee=Fee(D("2.105"), estimated=False))
    with pytest.raises(ValueError):
        services.post_sale(order=order, fee=Fee(D("-1.00"), estimated=False))
    assert support.ledger_counts() == before


def test_zero_decimal_currency(rule):
    # JPY has no minor unit: every figure is whole yen
    record = support.make_stockrecord("3000", cost="1000", currency="JPY")
    order = support.place_order((record, 1))
    txn = support.pay(order, fee=D("117"))

    (row,) = _rows(order)
    assert (row.fee_share, row.profit, row.donation) == (D("117"), D("1883"), D("942"))
    assert support.entries_of(txn) == {
        ("campaign:donations", "debit"): D("942"),
        ("payable:alpha-group", "credit"): D("314"),
        ("payable:beta-group", "credit"): D("314"),
        ("payable:gamma-group", "credit"): D("314"),
    }
    assert list(ledger_violations()) == []
