"""A Hypothesis state machine over orders and their money at a Stripe-shaped fake (DESIGN "Tests").

One StripeFake process serves the test (flushed before every example); each example runs in a savepoint
rolled back at its end, with one to three orders placed through the checkout's own placement path
(shop.checkout.placement), the P6 catalogue and the campaign's beneficiaries loaded once. The rules drive
the real services and the real webhook endpoint (signed events, Django test client): pay, a declined
card, paying twice, a lost answer then paying again, 3D Secure completed late (also after another pay,
which must have cancelled it), a second charge for the order (an excess payment), staff refunds (and a
refund of an unpaid order, refused), refunds made in Stripe's dashboard, refund outcomes at Stripe
(succeeded, failed, canceled, succeeded then failed) told by a webhook, by `reconcile_payments` or not
yet, disputes on the booked or on an excess charge, cancelling, reconciling, fresh events about any object
and replays of any webhook already delivered. Service calls and deliveries run inside
`django_capture_on_commit_callbacks(execute=True)`: excess payments are refunded on commit.

After every step (Stripe's side from the fake's objects only, tests/payments/stripe_model.py; ours from
the database):
- at most one booked charge and one Source per order; an order is in a paid status iff it has one, and the
  booked charge is one Stripe reports succeeded; at most one intent that can still charge;
- the shop never records more than Stripe did: every succeeded refund and every refunded excess payment is
  succeeded at Stripe, unless Stripe changed it since and has not told us yet; disputes as Stripe has them;
- money, per charge, whenever every change at Stripe has been told to the shop (a webhook or a reconcile
  delivered it): Stripe's net (the captured charge − its succeeded refunds − its lost disputes) equals
  ours (booked: amount debited − succeeded refunds − lost disputes; excess: amount − refunded − lost),
  and no succeeded charge of an order is unknown to the shop; Source.amount_refunded is the sum of the
  succeeded refunds;
- the ledger: the sale is posted iff the order has a booked charge; the reversals not restored are exactly
  the booked charge's succeeded refunds and lost disputes (basis = their amount), the restorations exactly
  the refunds that failed after succeeding; no ledger transaction names an excess payment's refund or
  dispute; the net donation is the sale's donation reversed pro-rata to the money refunded or lost (to the
  cent per reversal); `ledger_violations()` is empty;
- after `reconcile_payments`: the shop knows everything Stripe does (but disputes, always told by their
  webhook here; the gap it once had is replayed in test_reconciling.py), and every succeeded charge of an
  order but one is on its way back to the card (refunded in full, pending or succeeded, or disputed): no
  customer is charged twice.
"""

import os
from collections import Counter
from decimal import Decimal as D
from io import StringIO

from django.core.management import call_command
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, event
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from oscar.apps.payment.exceptions import PaymentError
from oscar.core.loading import get_model

from fundraising.models import Account, Entry, LedgerTransaction
from fundraising.verification import ledger_violations
from shop.checkout.placement import build_basket, place_pending_order
from shop.payments import services
from shop.payments.gateway import get_gateway
from shop.payments.models import ExcessPayment, PaymentAttempt, StripeDispute, StripeRefund
from tests.fakestripe import StripeFakeError
from tests.markers import Sink
from tests.payments.events import record_attempt, shop_rows, signed_post
from tests.payments.stripe_model import stripe_state
from tests.payments.support import ADDRESS

Source = get_model("payment", "Source")
StockRecord = get_model("partner", "StockRecord")

SKUS = ["P6-TEE-BLK-M", "P6-HOOD-NVY-XXL", "P6-PIN"]
VISA, DECLINED, THREE_DS = "pm_card_visa", "pm_card_chargeDeclined", "pm_card_threeDSecure2Required"
CENT = D("0.01")
MAX_ORDERS = 3

#: What the examples went through (printed with `-s`): a check that the rules reach the paths they aim at.
SEEN = Counter()


def note(what):
    event(what)
    SEEN[what] += 1




def _rows_but_events():
    """What the payment paths write (tests/payments/events.py) and the ledger, but the webhook log."""
    rows = shop_rows()
    rows.pop("stripe_events")
    rows["ledger"] = (LedgerTransaction.objects.count(), Entry.objects.count())
    return rows


class PaymentMachine(RuleBasedStateMachine):
    fake = None
    client = None
    capture = None

    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.fake.flush()
        self.orders = []
        self.state = stripe_state(self.fake)  # Stripe as of the end of the last step (see `invariants`)
        self.delivered = []  # (event dict, HTTP status of its first delivery)
        self.three_ds = []  # (order, intent id) started with a 3DS card
        # Changes at Stripe the shop has not been told about yet (no webhook, no reconcile since).
        self.stale_refunds = set()
        self.stale_intents = set()

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- helpers -----------------------------------------------------------------------------------

    def _with_status(self, *statuses):
        return [order for order in self.orders if order.status in statuses]

    def _pending(self):
        return self._with_status(services.PENDING)

    def _paid(self):
        return self._with_status(*services.PAID_STATUSES)

    def _draw_order(self, data, orders):
        order = data.draw(st.sampled_from(orders))
        order.refresh_from_db()
        return order

    def _run(self, fn, *args, **kwargs):
        with self.capture(execute=True):
            return fn(*args, **kwargs)

    def _posts_since(self, seen):
        return [r for r in self.fake.requests()[seen:] if r["method"] == "POST"]

    def _pay(self, order, card):
        """pay_order's outcome, or the OrderNotPayable it raised. Past the card-testing limit (declines
        add up) it is refused, and nothing is sent to Stripe or written here."""
        seen, attempts = len(self.fake.requests()), PaymentAttempt.objects.count()
        try:
            return self._run(services.pay_order, order=order, payment_method=card)
        except services.TooManyAttempts as exc:
            note("pay: too many attempts")
            assert self._posts_since(seen) == [] and PaymentAttempt.objects.count() == attempts
            return exc
        except services.OrderNotPayable as exc:
            return exc

    def _deliver(self, type_, object_id):
        event = self.fake.event(type_, object_id)
        response = self._run(signed_post, self.client, event)
        assert response.status_code == 200, (type_, object_id, response.content)
        note(f"webhook {type_}: {response.json()['outcome']}")
        self.delivered.append((event, response.status_code))
        if object_id.startswith("re_"):
            self.stale_refunds.discard(object_id)
        if object_id.startswith("pi_"):
            self.stale_intents.discard(object_id)
        if object_id.startswith("ch_"):  # charge.refunded: every refund of the charge, by its own id
            self.stale_refunds -= {r["id"] for r in self.fake.objects("refund") if r["charge"] == object_id}
        return response

    def _succeeded_charges(self, order):
        return len(stripe_state(self.fake).order(order.number).succeeded)

    def _told_about_order(self, order):
        """pay_order and cancel_unpaid_order ask Stripe about every earlier attempt of the order."""
        self.stale_intents -= set(stripe_state(self.fake).order(order.number).intents)

    # --- orders --------------------------------------------------------------------------------------

    def _place(self, sku, quantity):
        record = StockRecord.objects.select_related("product").get(partner_sku=sku)
        basket = build_basket(items=[(record.product, quantity)])
        order = place_pending_order(basket=basket, email=f"fan{len(self.orders)}@example.org", address=ADDRESS)
        self.orders.append(order)
        return order

    @initialize(lines=st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 2)), min_size=1, max_size=2),
                paid=st.booleans())
    def place(self, lines, paid):
        # Half the examples start with the first order paid, so short programs still refund and dispute.
        for sku, quantity in lines:
            self._place(sku, quantity)
        if paid:
            assert self._pay(self.orders[0], VISA).status == "succeeded"

    @precondition(lambda self: len(self.orders) < MAX_ORDERS and not self._pending())
    @rule(sku=st.sampled_from(SKUS), quantity=st.integers(1, 2))
    def place_another(self, sku, quantity):
        """Another fan's order, so that the paying rules have a pending order again."""
        self._place(sku, quantity)

    # --- paying --------------------------------------------------------------------------------------

    @rule(data=st.data())
    def pay(self, data):
        order = self._draw_order(data, self.orders)
        before = self._succeeded_charges(order)
        if order.status != services.PENDING:
            # Refused, and nothing is sent to Stripe or written here.
            rows, seen = _rows_but_events(), len(self.fake.requests())
            outcome = self._pay(order, VISA)
            assert isinstance(outcome, services.OrderNotPayable), outcome
            assert _rows_but_events() == rows and self._posts_since(seen) == []
            return
        outcome = self._pay(order, VISA)
        if isinstance(outcome, services.TooManyAttempts):
            return
        order.refresh_from_db()
        assert outcome.status == "succeeded", outcome
        assert order.status == services.PAID
        assert self._succeeded_charges(order) <= before + 1
        self._told_about_order(order)

    @precondition(lambda self: self._pending())
    @rule(data=st.data())
    def pay_declined(self, data):
        order = self._draw_order(data, self._pending())
        before = self._succeeded_charges(order)
        outcome = self._pay(order, DECLINED)
        if isinstance(outcome, services.TooManyAttempts):
            return
        order.refresh_from_db()
        self._told_about_order(order)
        if outcome.status == "succeeded":  # an earlier attempt had succeeded at Stripe: booked, not charged
            assert self._succeeded_charges(order) == before
            return
        assert outcome.status == "declined", outcome
        assert order.status == services.PENDING
        assert self._succeeded_charges(order) == before

    @precondition(lambda self: self._pending())
    @rule(data=st.data())
    def pay_twice(self, data):
        order = self._draw_order(data, self._pending())
        before = self._succeeded_charges(order)
        first = self._pay(order, VISA)
        if isinstance(first, services.TooManyAttempts):
            return
        assert first.status == "succeeded", first
        self._told_about_order(order)
        rows, seen = _rows_but_events(), len(self.fake.requests())
        second = self._pay(order, VISA)
        assert isinstance(second, services.OrderNotPayable), second
        assert _rows_but_events() == rows and self._posts_since(seen) == []
        assert self._succeeded_charges(order) <= before + 1

    @precondition(lambda self: self._pending())
    @rule(data=st.data())
    def lost_answer_then_pay_again(self, data):
        order = self._draw_order(data, self._pending())
        before = self._succeeded_charges(order)
        seen = len(self.fake.requests())
        self.fake.fault("POST", r"/confirm$", "lose_answer")
        first = self._pay(order, VISA)
        lost = [r for r in self.fake.requests()[seen:] if r["fault"] == "lose_answer"]
        note(f"lost answer: {'lost' if lost else 'not reached'}")
        if not lost:  # the pay never reached a confirm (an earlier attempt was booked): disarm the fault
            try:
                self.fake.call("POST", "/v1/payment_intents/pi_disarmfault/confirm", timeout=5)
            except OSError:
                pass
            assert isinstance(first, services.TooManyAttempts) or first.status == "succeeded", first
            return
        assert first.status == "error", first
        order.refresh_from_db()
        assert order.status == services.PENDING  # not told yet; Stripe charged the card
        second = self._pay(order, VISA)
        assert second.status == "succeeded", second
        assert self._succeeded_charges(order) == before + 1  # the lost one, booked; no second charge
        lost_intent = lost[0]["path"].split("/")[3]
        assert services.booked_attempt(order).intent_id == lost_intent
        self._told_about_order(order)

    @precondition(lambda self: self._pending())
    @rule(data=st.data())
    def start_3ds(self, data):
        order = self._draw_order(data, self._pending())
        outcome = self._pay(order, THREE_DS)
        if isinstance(outcome, services.TooManyAttempts) or outcome.status == "succeeded":  # or booked an earlier one
            return
        assert outcome.status == "requires_action", outcome
        note("3DS started")
        self.three_ds.append((order, outcome.attempt.intent_id))
        self._told_about_order(order)

    def _awaiting_3ds(self):
        return [(order, intent_id) for order, intent_id in self.three_ds
                if self.state.order(order.number).intents.get(intent_id) == "requires_action"]

    @precondition(lambda self: self.three_ds)
    @rule(data=st.data(), success=st.booleans(), tell=st.sampled_from(["browser", "webhook", "later"]))
    def complete_3ds_late(self, data, success, tell):
        """The fan finishes 3D Secure in another tab, whatever happened since it started."""
        order, intent_id = data.draw(st.sampled_from(self._awaiting_3ds() or self.three_ds))
        before = self._succeeded_charges(order)
        try:
            self.fake.complete_3ds(intent_id, success)
        except StripeFakeError:
            note("3DS completed late: refused")
            # Settled meanwhile (cancelled at Stripe by another pay or a cancellation, or 3DS already done):
            # it can no longer charge.
            assert stripe_state(self.fake).order(order.number).intents[intent_id] != "requires_action"
            assert self._succeeded_charges(order) == before
            return
        note(f"3DS completed late: {'success' if success else 'failure'}, told by {tell}")
        if tell == "browser":
            self._run(services.check_attempt, order=order, intent_id=intent_id)
        elif tell == "webhook":
            self._deliver("payment_intent.succeeded" if success else "payment_intent.payment_failed", intent_id)
        elif success:
            self.stale_intents.add(intent_id)

    @precondition(lambda self: self._pending())
    @rule(data=st.data(), success=st.booleans())
    def three_ds_overtaken_by_another_pay(self, data, success):
        order = self._draw_order(data, self._pending())
        started = self._pay(order, THREE_DS)
        if isinstance(started, services.TooManyAttempts) or started.status != "requires_action":
            return
        intent_id = started.attempt.intent_id
        self.three_ds.append((order, intent_id))
        again = self._pay(order, VISA)
        assert again.status == "succeeded", again
        self._told_about_order(order)
        before = self._succeeded_charges(order)
        try:
            self.fake.complete_3ds(intent_id, success)
        except StripeFakeError as exc:
            assert exc.error.get("code") == "payment_intent_unexpected_state"
        else:
            raise AssertionError("a 3D Secure finished after another pay could still charge")
        assert self._succeeded_charges(order) == before

    @rule(data=st.data(), amount=st.sampled_from(["total", "other"]))
    def excess_charge(self, data, amount):
        """Money taken at Stripe for the order by another intent (an attempt row the shop wrote, its
        answer never applied), then its payment_intent.succeeded webhook."""
        order = self._draw_order(data, self.orders)
        if order.status == services.PENDING and self.state.order(order.number).live_intents:
            return  # never two live intents: the pay service settles the earlier one first
        number = max(PaymentAttempt.objects.filter(order=order).values_list("number", flat=True), default=0) + 1
        gateway = get_gateway()
        total = order.total_incl_tax if amount == "total" else order.total_incl_tax + D("5.00")
        intent = gateway.create_intent(amount=total, currency=order.currency, order_number=order.number,
                                       attempt=number)
        record_attempt(order, intent, number=number)
        paid = gateway.confirm_intent(intent.id, payment_method=VISA)
        assert paid.status == "succeeded"
        self._deliver("payment_intent.succeeded", intent.id)

    @rule(data=st.data())
    def cancel(self, data):
        order = self._draw_order(data, self.orders)
        was = order.status
        result = self._run(services.cancel_unpaid_order, order=order)
        order.refresh_from_db()
        if was != services.PENDING:
            assert result == "skipped" and order.status == was
            return
        assert result in ("cancelled", "captured"), result
        note(f"cancel: {result}")
        intents = stripe_state(self.fake).order(order.number).intents
        if result == "cancelled":
            assert order.status == services.CANCELLED
            assert all(status in ("canceled", "succeeded") for status in intents.values()), intents
            assert not order.lines.filter(num_allocated__gt=0).exists()
        else:
            assert order.status == services.PAID
        self._told_about_order(order)

    # --- refunds -------------------------------------------------------------------------------------

    @rule(data=st.data())
    def refund_unpaid(self, data):
        order = self._draw_order(data, self.orders)
        if order.status in services.PAID_STATUSES:
            return
        rows, seen = _rows_but_events(), len(self.fake.requests())
        try:
            self._run(services.start_refund, order=order, amount=order.total_incl_tax)
        except services.RefundRefused:
            assert _rows_but_events() == rows and self._posts_since(seen) == []
        else:
            raise AssertionError("a refund of an unpaid order was accepted")

    def _refundable(self):
        """Paid orders whose booked charge is not disputed at Stripe (or all paid ones, when every one is:
        Stripe then refuses the refund, which is checked too)."""
        disputed = {c.intent_id for c in self.state.charges.values() if c.disputed}
        paid = self._paid()
        return [o for o in paid if services.booked_attempt(o).intent_id not in disputed] or paid

    @precondition(lambda self: self._paid())
    @rule(data=st.data(), tell_created=st.booleans())
    def staff_refund(self, data, tell_created):
        order = self._draw_order(data, self._refundable())
        left = services.captured_amount(order) - services.refunded_or_reserved(order)
        cents = int(left * 100)
        over = cents == 0 or data.draw(st.integers(0, 9)) == 0
        amount = (left + CENT) if over else D(data.draw(st.integers(1, cents))) / 100
        rows, seen = _rows_but_events(), len(self.fake.requests())
        try:
            row = self._run(services.start_refund, order=order, amount=amount)
        except services.RefundRefused:
            assert over
            assert _rows_but_events() == rows and self._posts_since(seen) == []
            return
        except PaymentError:
            # Stripe refuses to refund a charged-back charge, or more than it has left (a refund made in its
            # dashboard that we have not heard of yet); the reservation is released.
            booked = services.booked_attempt(order).intent_id
            charge = next(c for c in stripe_state(self.fake).charges.values() if c.intent_id == booked and c.succeeded)
            assert charge.disputed or charge.amount - charge.amount_refunded < amount, charge
            assert not StripeRefund.objects.filter(order=order, status=StripeRefund.REQUESTED).exists()
            note(f"staff refund: refused by Stripe ({'disputed' if charge.disputed else 'refunded in its dashboard'})")
            return
        assert not over, f"refund of {amount} accepted with {left} left"
        note("staff refund: pending at Stripe")
        assert row.status == StripeRefund.PENDING and row.refund_id
        if tell_created:
            self._deliver("refund.created", row.refund_id)

    def _booked_charges(self):
        booked = set(PaymentAttempt.objects.filter(booked=True, order__in=self.orders).values_list("intent_id",
                                                                                                   flat=True))
        return [c for c in self.state.charges.values()
                if c.intent_id in booked and c.succeeded and c.amount > c.amount_refunded and not c.disputed]

    @precondition(lambda self: self._paid())
    @rule(data=st.data(), status=st.sampled_from(["pending", "succeeded"]),
          tell=st.sampled_from(["refund.created", "charge.refunded", "reconcile", "later"]))
    def refund_in_stripes_dashboard(self, data, status, tell):
        """Staff refund part of the booked charge in Stripe's dashboard, not in ours (no metadata)."""
        charges = self._booked_charges()
        if not charges:
            return
        charge = data.draw(st.sampled_from(charges))
        minor = data.draw(st.integers(1, int((charge.amount - charge.amount_refunded) * 100)))
        refund = self.fake.create_refund_as_dashboard(charge.id, amount=minor, status=status)
        note(f"dashboard refund {status}, told by {tell}")
        self.stale_refunds.add(refund["id"])
        if tell == "reconcile":
            self.reconcile()
        elif tell == "charge.refunded":
            self._deliver("charge.refunded", charge.id)
        elif tell != "later":
            self._deliver(tell, refund["id"])

    def _refunds_that_can_become(self, status):
        allowed = {"succeeded": ("pending",), "failed": ("pending", "succeeded"), "canceled": ("pending",)}[status]
        return [r for r in self.state.refunds.values() if r["status"] in allowed]

    @precondition(lambda self: self.state.refunds)
    @rule(data=st.data(), status=st.sampled_from(["succeeded", "failed", "canceled"]),
          tell=st.sampled_from(["refund.updated", "charge.refund.updated", "charge.refunded", "reconcile", "later"]))
    def refund_outcome_at_stripe(self, data, status, tell):
        refunds = self._refunds_that_can_become(status)
        if not refunds:
            return
        refund = data.draw(st.sampled_from(refunds))
        excess = ExcessPayment.objects.filter(charge_id=refund["charge"]).exists()
        note(f"refund {refund['status']} -> {status} ({'excess' if excess else 'booked'}), told by {tell}")
        self.fake.set_refund_status(refund["id"], status, failure_reason="lost_or_stolen_card" if status == "failed"
                                    else None)
        if tell == "reconcile":
            self.stale_refunds.add(refund["id"])
            self.reconcile()
        elif tell == "later":
            self.stale_refunds.add(refund["id"])
        elif tell == "charge.refunded":
            self._deliver("charge.refunded", refund["charge"])
        else:
            self._deliver(tell, refund["id"])

    # --- disputes ------------------------------------------------------------------------------------

    def _disputable(self):
        return [c for o in self.state.orders.values() for c in o.succeeded.values()
                if not c.disputed and c.amount > c.amount_refunded]

    @precondition(lambda self: self._disputable())
    @rule(data=st.data())
    def open_dispute(self, data):
        charge = data.draw(st.sampled_from(self._disputable()))
        minor = int((charge.amount - charge.amount_refunded) * 100)
        dispute = self.fake.create_dispute(charge.id, amount=minor)
        excess = ExcessPayment.objects.filter(charge_id=charge.id).exists()
        note(f"dispute opened on {'an excess' if excess else 'a'} charge")
        self._deliver("charge.dispute.created", dispute["id"])

    def _open_disputes(self):
        return [d for d in self.state.disputes.values() if d["status"] in ("needs_response", "under_review")]

    @precondition(lambda self: self._open_disputes())
    @rule(data=st.data(), outcome=st.sampled_from(["lost", "won"]))
    def close_dispute(self, data, outcome):
        dispute = data.draw(st.sampled_from(self._open_disputes()))
        self.fake.update_dispute(dispute["id"], outcome)
        note(f"dispute {outcome}")
        self._deliver("charge.dispute.closed", dispute["id"])

    # --- repair paths --------------------------------------------------------------------------------

    @rule()
    def reconcile(self):
        self._run(call_command, "reconcile_payments", stdout=Sink(), stderr=Sink())
        # reconcile_payments asks Stripe about every refund it could have missed, refunded excess payments of a
        # cancelled order included (test_reconciling.py, test_reconcile_revisits_a_refunded_excess_payment_...).
        self.stale_refunds = set()
        self.stale_intents.clear()
        state = stripe_state(self.fake)
        for order in self.orders:
            charges = state.order(order.number).succeeded.values()
            kept = [c.id for c in charges if not c.given_back and not set(c.refunds) & self.stale_refunds]
            assert len(kept) <= 1, f"order {order.number}: the card was charged {len(kept)} times: {kept}"
        for excess in ExcessPayment.objects.all():
            assert excess.status not in (ExcessPayment.RECORDED, ExcessPayment.REFUND_FAILED) or \
                state.charges[excess.charge_id].disputed, excess

    @precondition(lambda self: self.state.charges)
    @rule(data=st.data())
    def late_event(self, data):
        """Stripe tells again, with a new event, about any object as it is now (events come late, out of
        order, more than once): nothing may be applied twice."""
        choices = [("payment_intent.succeeded" if status == "succeeded" else "payment_intent.payment_failed", pi)
                   for o in self.state.orders.values() for pi, status in o.intents.items()
                   if status in ("succeeded", "requires_payment_method")]
        choices += [(t, r) for r in self.state.refunds for t in ("refund.updated", "charge.refund.updated")]
        choices += [("charge.refunded", c) for c, charge in self.state.charges.items() if charge.refunds]
        choices += [("charge.dispute.updated", d) for d in self.state.disputes]
        if not choices:
            return
        type_, object_id = data.draw(st.sampled_from(choices))
        rows, told = _rows_but_events(), not self.stale_refunds and not self.stale_intents
        self._deliver(type_, object_id)
        note(f"late event {type_}")
        if told:
            # Every change of money was told already: a fresh event changes no money here (attempt statuses
            # and notes may catch up, e.g. a 3D Secure that failed while nobody listened).
            after = _rows_but_events()
            for name in ("attempts", "notes"):
                after[name] = rows[name]
            assert after == rows, type_

    @precondition(lambda self: self.delivered)
    @rule(data=st.data())
    def replay_webhook(self, data):
        event, status = data.draw(st.sampled_from(self.delivered))
        before = _rows_but_events()
        response = self._run(signed_post, self.client, event)
        assert response.status_code == 200, response.content
        note("webhook replayed")
        if status == 200:
            assert response.json()["outcome"] == "duplicate"
            assert _rows_but_events() == before

    # --- invariants ----------------------------------------------------------------------------------

    @invariant()
    def invariants(self):
        if not self.orders:
            return
        self.state = state = stripe_state(self.fake)
        self._one_booked_charge_per_order(state)
        self._never_more_than_stripe(state)
        if not self.stale_refunds and not self.stale_intents:
            self._money_matches_stripe(state)
        self._ledger_follows_the_booked_charge(state)

    def _one_booked_charge_per_order(self, state):
        for order in self.orders:
            order.refresh_from_db()
            booked = list(PaymentAttempt.objects.filter(order=order, booked=True))
            sources = list(Source.objects.filter(order=order))
            assert len(booked) <= 1 and len(sources) <= 1
            assert (order.status in services.PAID_STATUSES) == bool(booked), (order.status, booked)
            assert len(sources) == len(booked)
            at_stripe = state.order(order.number)
            if booked:
                assert sources[0].reference == booked[0].intent_id
                assert at_stripe.intents.get(booked[0].intent_id) == "succeeded"
            assert len(at_stripe.live_intents) <= 1, at_stripe.intents
            if order.status == services.CANCELLED:
                assert at_stripe.live_intents == [], at_stripe.intents

    def _never_more_than_stripe(self, state):
        for row in StripeRefund.objects.filter(status=StripeRefund.SUCCEEDED):
            if row.refund_id not in self.stale_refunds:
                assert state.refunds[row.refund_id]["status"] == "succeeded", row
        for excess in ExcessPayment.objects.filter(status=ExcessPayment.REFUNDED):
            if excess.refund_id not in self.stale_refunds:
                assert state.refunds[excess.refund_id]["status"] == "succeeded", excess
        for row in StripeDispute.objects.all():
            assert state.disputes[row.dispute_id]["status"] == row.status, row
        for source in Source.objects.all():
            refunded = StripeRefund.objects.filter(order=source.order, status=StripeRefund.SUCCEEDED).aggregate(
                s=Sum("amount"))["s"] or D(0)
            assert source.amount_refunded == refunded, (source.amount_refunded, refunded)

    def _money_matches_stripe(self, state):
        for order in self.orders:
            ours = self._our_net_by_charge(order, state)
            theirs = {cid: c.net for cid, c in state.order(order.number).succeeded.items()}
            assert ours == theirs, f"order {order.number}: ours {ours}, Stripe's {theirs}"

    def _our_net_by_charge(self, order, state):
        nets = {}
        booked = services.booked_attempt(order)
        if booked is not None:
            charge = next(c for c in state.charges.values() if c.intent_id == booked.intent_id and c.succeeded)
            source = Source.objects.get(order=order)
            refunded = StripeRefund.objects.filter(order=order, status=StripeRefund.SUCCEEDED).aggregate(
                s=Sum("amount"))["s"] or D(0)
            lost = StripeDispute.objects.filter(order=order, booked=True, status="lost").aggregate(
                s=Sum("order_amount"))["s"] or D(0)
            nets[charge.id] = D(source.amount_debited) - refunded - lost
        for excess in ExcessPayment.objects.filter(order=order):
            lost = StripeDispute.objects.filter(order=order, booked=False, charge_id=excess.charge_id,
                                                status="lost").aggregate(s=Sum("amount"))["s"] or D(0)
            assert excess.charge_id not in nets
            nets[excess.charge_id] = excess.amount - excess.refunded_amount - lost
        return {cid: net.quantize(CENT) for cid, net in nets.items()}

    def _ledger_follows_the_booked_charge(self, state):
        assert list(ledger_violations()) == []
        for order in self.orders:
            booked = services.booked_attempt(order)
            txns = list(LedgerTransaction.objects.filter(order=order))
            sales = [t for t in txns if t.kind == "sale"]
            assert len(sales) == (1 if booked else 0)
            reversals = {t.idempotency_key: t for t in txns if t.kind in ("refund", "dispute")}
            restored = {t.reference for t in txns if t.kind == "restoration"}
            refunds = StripeRefund.objects.filter(order=order)
            expected_live = {f"refund:{r.refund_id}": r.amount for r in refunds.filter(
                status=StripeRefund.SUCCEEDED, recorded_at__isnull=False)}
            expected_live.update({f"dispute:{d.dispute_id}": d.order_amount for d in StripeDispute.objects.filter(
                order=order, booked=True, status="lost", reversed_at__isnull=False)})
            live = {key: t.basis_amount for key, t in reversals.items() if key not in restored}
            assert {k: D(v).quantize(CENT) for k, v in live.items()} == \
                {k: D(v).quantize(CENT) for k, v in expected_live.items()}
            assert restored == {f"refund:{r.refund_id}" for r in refunds.filter(restored_at__isnull=False)}
            # Nothing in the ledger refers to a refund or dispute of a charge that is not the booked one.
            booked_charges = {c.id for c in state.charges.values() if booked and c.intent_id == booked.intent_id}
            foreign = {r["id"] for r in state.refunds.values() if r["charge"] not in booked_charges}
            foreign |= {d["id"] for d in state.disputes.values() if d["charge"] not in booked_charges}
            assert not {t.reference for t in txns} & foreign
            if not sales:
                assert not reversals
                continue
            self._check_net_donation(order, sales[0], live, len(restored))

    def _check_net_donation(self, order, sale, live, restorations):
        beneficiary_side = Entry.objects.filter(transaction__order=order,
                                                account__kind__in=[Account.Kind.PAYABLE, Account.Kind.RECEIVABLE])
        donation = beneficiary_side.filter(transaction=sale).aggregate(s=Sum("credit"))["s"] or D(0)
        credits = beneficiary_side.aggregate(s=Sum("credit"))["s"] or D(0)
        debits = beneficiary_side.aggregate(s=Sum("debit"))["s"] or D(0)
        net = (D(credits) - D(debits)).quantize(CENT)
        reversed_live = beneficiary_side.filter(transaction__idempotency_key__in=list(live)).aggregate(
            s=Sum("debit"))["s"] or D(0)
        assert net == (D(donation) - D(reversed_live)).quantize(CENT), (net, donation, reversed_live)
        captured = D(sale.basis_amount)
        basis = sum((D(v) for v in live.values()), D(0))
        if basis >= captured:
            assert net == 0, (net, basis, captured)
        elif basis == 0:
            assert net == D(donation).quantize(CENT)
        else:
            expected = D(donation) * (captured - basis) / captured
            assert abs(net - expected) <= CENT * (1 + restorations), (net, expected, donation, basis, captured)


def test_payment_state_machine(fake_stripe, p6_catalogue, client, django_capture_on_commit_callbacks):
    call_command("load_p6_fundraising", stdout=StringIO())
    PaymentMachine.fake = fake_stripe
    PaymentMachine.client = client
    PaymentMachine.capture = staticmethod(django_capture_on_commit_callbacks)
    # CI size; hunt for bugs locally with e.g. PSM_EXAMPLES=300 PSM_STEPS=30 (and `-s` to see SEEN).
    run_state_machine_as_test(
        PaymentMachine,
        settings=hsettings(
            max_examples=int(os.environ.get("PSM_EXAMPLES", 25)),
            stateful_step_count=int(os.environ.get("PSM_STEPS", 15)),
            deadline=None, database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    print("\n".join(f"{n:4} {what}" for what, n in sorted(SEEN.items())))
