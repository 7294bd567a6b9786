"""A Hypothesis state machine over orders, payments, replays, refunds, disputes, payouts and checkpoints.

After every step every invariant of ``verify_ledger`` holds (``ledger_violations()`` is empty), a
refused call wrote nothing, a replay wrote nothing, and an order refunded in full has had exactly
what was posted reversed. Each example runs in a savepoint rolled back at teardown, so examples do
not see each other's rows; the products are created once, outside them.
"""

import datetime as dt
from decimal import Decimal as D

from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from fundraising import services
from fundraising.exceptions import InsufficientPayable, SaleNotPosted
from fundraising.models import Entry, LedgerTransaction
from fundraising.selectors import beneficiary_balances
from fundraising.verification import ledger_violations
from tests.fundraising import support

PRICES = [("25.00", "10.00"), ("12.00", "4.00"), ("9.99", "9.50"), ("40.00", None), ("3.00", "3.50")]


class LedgerMachine(RuleBasedStateMachine):
    records = []
    beneficiaries = []

    orders = Bundle("orders")
    reversals = Bundle("reversals")

    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.refunded = {}  # order pk -> cumulative amount refunded or lost
        self.counter = 0

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    def _key(self, kind):
        self.counter += 1
        return f"{kind}:{kind[:2]}_{self.counter}"

    def _paid(self, order):
        return LedgerTransaction.objects.filter(order=order, kind="sale").exists()

    def _posted_and_reversed(self, order):
        posted = Entry.objects.filter(transaction__order=order, transaction__kind="sale", credit__gt=0).aggregate(
            s=Sum("credit"))["s"] or D(0)
        reversed_ = Entry.objects.filter(
            transaction__order=order, transaction__kind__in=["refund", "dispute"], debit__gt=0
        ).aggregate(s=Sum("debit"))["s"] or D(0)
        return posted, reversed_

    def _reverse(self, order, kind, amount, line_quantities=None):
        key = self._key(kind)
        if not self._paid(order):
            before = support.ledger_counts()
            try:
                services.post_reversal(order=order, key=key, kind=kind, amount=amount, line_quantities=line_quantities)
            except SaleNotPosted:
                assert support.ledger_counts() == before
                return None
            raise AssertionError("a reversal of an unpaid order was accepted")
        txn = services.post_reversal(order=order, key=key, kind=kind, amount=amount, line_quantities=line_quantities)
        self.refunded[order.pk] = self.refunded.get(order.pk, D(0)) + amount
        if line_quantities is None and self.refunded[order.pk] >= order.total_incl_tax:
            posted, reversed_ = self._posted_and_reversed(order)
            assert reversed_ == posted, f"fully refunded order {order.number}: reversed {reversed_} of {posted}"
        return (order, key, kind, amount, line_quantities, txn.pk)

    @initialize(target=orders, fee=st.one_of(st.none(), st.integers(0, 400).map(lambda cents: D(cents) / 100)))
    def place_and_pay(self, fee):
        # Start every example with a paid order, so that short programs still refund and disburse.
        order = support.place_order((self.records[0], 2), (self.records[1], 1))
        support.pay(order, fee=fee)
        return order

    @rule(target=orders, lines=st.lists(
        st.tuples(st.integers(0, len(PRICES) - 1), st.integers(1, 3)), min_size=1, max_size=3,
        unique_by=lambda line: line[0],
    ))
    def place(self, lines):
        return support.place_order(*[(self.records[index], quantity) for index, quantity in lines])

    @rule(order=orders, fee=st.one_of(st.none(), st.integers(0, 400).map(lambda cents: D(cents) / 100)))
    def pay(self, order, fee):
        before = support.ledger_counts()
        was_paid = self._paid(order)
        txn = support.pay(order, fee=fee)
        if was_paid:
            assert support.ledger_counts() == before
        assert LedgerTransaction.objects.filter(order=order, kind="sale").get().pk == txn.pk

    @rule(order=orders)
    def pay_again(self, order):
        if not self._paid(order):
            return
        first = LedgerTransaction.objects.get(order=order, kind="sale")
        before = support.ledger_counts()
        assert support.pay(order, fee=D("1.00")).pk == first.pk
        assert support.ledger_counts() == before

    @rule(target=reversals, order=orders, cents=st.integers(1, 20000))
    def refund_part(self, order, cents):
        return self._reverse(order, "refund", D(cents) / 100) or order

    @rule(target=reversals, order=orders)
    def refund_all(self, order):
        left = order.total_incl_tax - self.refunded.get(order.pk, D(0))
        return self._reverse(order, "refund", left if left > 0 else order.total_incl_tax) or order

    @rule(target=reversals, order=orders, data=st.data())
    def refund_lines(self, order, data):
        lines = list(order.lines.order_by("pk"))
        chosen = data.draw(st.lists(st.sampled_from(lines), min_size=1, unique=True))
        quantities = {line.pk: data.draw(st.integers(1, line.quantity)) for line in chosen}
        amount = sum((line.unit_price_excl_tax * quantities[line.pk] for line in chosen), D(0))
        return self._reverse(order, "refund", amount, quantities) or order

    @rule(target=reversals, order=orders)
    def dispute(self, order):
        return self._reverse(order, "dispute", order.total_incl_tax) or order

    @rule(reversal=reversals)
    def replay_reversal(self, reversal):
        if not isinstance(reversal, tuple):
            return
        order, key, kind, amount, line_quantities, txn_id = reversal
        before = support.ledger_counts()
        again = services.post_reversal(order=order, key=key, kind=kind, amount=amount, line_quantities=line_quantities)
        assert again.pk == txn_id and support.ledger_counts() == before

    @rule(index=st.integers(0, 2), share=st.sampled_from(["0.25", "0.5", "1", "over"]))
    def disburse(self, index, share):
        beneficiary = self.beneficiaries[index]
        payable = beneficiary_balances(currency="USD")[index].payable
        assert beneficiary_balances(currency="USD")[index].beneficiary == beneficiary
        reference = f"wire-{self._key('disbursement')}"
        if share == "over" or payable == 0:
            before = support.ledger_counts()
            try:
                services.record_disbursement(beneficiary=beneficiary, amount=payable + D("0.01"), currency="USD",
                                             paid_on=dt.date(2024, 1, 1), reference=reference)
            except InsufficientPayable:
                assert support.ledger_counts() == before
                return
            raise AssertionError("a disbursement over the payable was accepted")
        amount = (payable * D(share)).quantize(D("0.01"))
        if amount > 0:
            services.record_disbursement(beneficiary=beneficiary, amount=amount, currency="USD",
                                         paid_on=dt.date(2024, 1, 1), reference=reference)

    @rule()
    def checkpoint(self):
        services.take_balance_checkpoint()

    @invariant()
    def ledger_is_sound(self):
        assert list(ledger_violations()) == []

    @invariant()
    def no_negative_balance(self):
        for balance in beneficiary_balances(currency="USD"):
            assert balance.payable >= 0 and balance.receivable >= 0
            assert balance.payable - balance.receivable == balance.earned - balance.reversed - balance.disbursed


def test_ledger_state_machine(beneficiaries):
    LedgerMachine.beneficiaries = beneficiaries
    services.set_share_rule(share_bps=5000, weights=[(b, w) for b, w in zip(beneficiaries, [1, 1, 2], strict=True)],
                            valid_from=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))
    LedgerMachine.records = [support.make_stockrecord(price, cost) for price, cost in PRICES]

    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=20, stateful_step_count=20, deadline=None, database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
