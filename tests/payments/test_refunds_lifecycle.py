"""Refunds of the booked charge through Stripe's whole lifecycle, against the Stripe-shaped fake
(DESIGN "A sale, end to end" step 6): a refund starts *pending* (reserved, nothing reversed), then
*succeeds* (the pro-rata donation reversal posted once, by refund id) or *fails* (the reservation
released; after a success the reversal restored once). Each fact may arrive by any path (the webhooks
`charge.refunded`, `charge.refund.updated`, `refund.updated`/`refund.failed`, or `reconcile_payments`)
and any number of times: the first applies it, the others find it applied.

The order throughout: one black M T-shirt, 30.00 USD, unit cost 11.50. The fake charges Stripe's real
fee, 2.9 % + 0.30 = 1.17, so the donation is (30.00 - 11.50 - 1.17) x 50 % = 8.665 -> 8.67 USD, split
equally among the three P6 beneficiaries: 2.89 each.
"""

import uuid
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from oscar.apps.payment.exceptions import PaymentError
from oscar.core.loading import get_model

from fundraising.models import Account, Entry, LedgerTransaction
from fundraising.selectors import beneficiary_balances
from shop.payments import services
from shop.payments.gateway import StripeUnreachable
from shop.payments.models import StripeRefund
from tests.payments.conftest import place_order
from tests.payments.events import shop_rows, signed_post
from tests.stripe_peer import free_port

Order = get_model("order", "Order")
OrderNote = get_model("order", "OrderNote")
PaymentEvent = get_model("order", "PaymentEvent")
Source = get_model("payment", "Source")

TOTAL = Decimal("30.00")
DONATION = Decimal("8.67")
ZERO = Decimal("0.00")
# Beneficiaries in the order the campaign loads them (ascending ids: ties in a split go to the first).
RLN, COMING_OUT, SPHERE = "russian-lgbt-network", "coming-out-st-petersburg", "sphere-foundation"
BEFORE_REFUNDS = {RLN: Decimal("2.89"), COMING_OUT: Decimal("2.89"), SPHERE: Decimal("2.89")}

# The four ways the news of a refund's new state reaches the shop.
PATHS = ("charge.refunded", "charge.refund.updated", "refund.updated", "reconcile_payments")



@pytest.fixture
def paid_order(client, p6_catalogue, campaign, fake_stripe):
    """A guest fan's order of one T-shirt (30.00 USD), paid on the payment page with a test Visa."""
    order, _ = place_order(client)
    response = client.post(reverse("checkout:pay", kwargs={"order_number": order.number}),
                           {"payment_method": "pm_card_visa"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json()["status"] == "succeeded"
    order = _reload(order)
    assert (order.status, order.total_incl_tax) == ("Paid", TOTAL)
    sale = LedgerTransaction.objects.get(idempotency_key=f"sale:{order.number}")
    assert sum(e.credit for e in sale.entries.all()) == DONATION
    assert _payables() == BEFORE_REFUNDS
    return order


# --- helpers ----------------------------------------------------------------------------------------


def _reload(order):
    return Order.objects.get(pk=order.pk)


def _source(order):
    return Source.objects.get(order=order)


def _charge_id(fake_gateway, order):
    return fake_gateway.retrieve_intent(_source(order).reference).latest_charge_id


def _payables():
    return {row.beneficiary.slug: row.payable for row in beneficiary_balances(currency="USD")}


def _ledger(order):
    """(key, kind, basis, money moved out of or back into the beneficiaries' accounts) per transaction."""
    rows = []
    for txn in LedgerTransaction.objects.filter(order=order).order_by("pk"):
        beneficiary = Entry.objects.filter(transaction=txn, account__beneficiary__isnull=False)
        side = "credit" if txn.kind in ("sale", "restoration") else "debit"
        rows.append((txn.idempotency_key, txn.kind, txn.basis_amount,
                     sum((getattr(e, side) for e in beneficiary), ZERO)))
    return rows


def _beneficiary_debits(key):
    return {e.account.beneficiary.slug: e.debit
            for e in Entry.objects.filter(transaction__idempotency_key=key, account__beneficiary__isnull=False)
            .select_related("account__beneficiary")}


def _events(order, name):
    return list(PaymentEvent.objects.filter(order=order, event_type__name=name).order_by("pk")
                .values_list("reference", "amount"))


def _ledger_ok():
    out = StringIO()
    call_command("verify_ledger", stdout=out)
    assert out.getvalue().startswith("ledger OK"), out.getvalue()


def _reconcile():
    out = StringIO()
    call_command("reconcile_payments", stdout=out, stderr=StringIO())
    return out.getvalue()


def _deliver(client, fake, type, object_id):
    """Stripe's event of `type` about the object as it is now, signed and POSTed to the webhook."""
    response = signed_post(client, fake.event(type, object_id))
    assert response.status_code == 200, response.content
    return response.json()


def _news(path, client, fake, *, charge_id, refund_id):
    """The refund's current state, told to the shop by `path`."""
    if path == "reconcile_payments":
        return _reconcile()
    return _deliver(client, fake, path, charge_id if path == "charge.refunded" else refund_id)


def _without_events(rows):
    rows = dict(rows)
    rows.pop("stripe_events")
    return rows


def _refund(order, amount, fake_gateway):
    """A staff refund through the service the dashboard calls; Stripe reports it pending."""
    return services.start_refund(order=order, amount=amount, request_id=uuid.uuid4().hex, gateway=fake_gateway)


def _refund_posts(fake):
    return fake.requests("POST", "/v1/refunds")


# --- pending, then succeeded --------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_pending_refund_reserves_then_its_success_is_recorded_once_by_any_path(client, paid_order, fake_stripe,
                                                                              fake_gateway, path):
    # given staff refund 10.00 of the paid 30.00 order, and Stripe reports the refund pending
    row = _refund(paid_order, Decimal("10.00"), fake_gateway)
    refund_id = row.refund_id
    charge_id = _charge_id(fake_gateway, paid_order)

    # then it is reserved, not refunded: no reversal, nothing on the Source, no payment event
    row.refresh_from_db()
    assert (row.status, row.amount, row.recorded_at) == (StripeRefund.PENDING, Decimal("10.00"), None)
    assert refund_id.startswith("re_")
    assert services.refunded_or_reserved(paid_order) == Decimal("10.00")
    assert services.refunded_total(paid_order) == ZERO
    assert _ledger(paid_order) == [(f"sale:{paid_order.number}", "sale", TOTAL, DONATION)]
    assert _source(paid_order).amount_refunded == ZERO
    assert _events(paid_order, "Refunded") == []
    assert _reload(paid_order).status == "Paid"

    # when the still-pending refund is reported again (refund.created, and the reconciler)
    pending = shop_rows()
    assert _deliver(client, fake_stripe, "refund.created", refund_id)["outcome"] == "processed"
    assert "reconciled: captured 0, cancelled 0, repaired 0, unchanged 1, errors 0" in _reconcile()

    # then nothing changes
    assert _without_events(shop_rows()) == _without_events(pending)
    assert LedgerTransaction.objects.count() == 1

    # when it succeeds at Stripe and the news arrives by `path`
    fake_stripe.set_refund_status(refund_id, "succeeded")
    _news(path, client, fake_stripe, charge_id=charge_id, refund_id=refund_id)

    # then it is recorded once: one reversal of the pro-rata donation, 8.67 x 10.00 / 30.00 = 2.89,
    # split 0.97 / 0.96 / 0.96 (largest remainder, the tie to the first beneficiary); one Refunded event
    row.refresh_from_db()
    assert (row.status, row.refund_id, row.amount) == (StripeRefund.SUCCEEDED, refund_id, Decimal("10.00"))
    assert row.recorded_at is not None
    assert StripeRefund.objects.count() == 1
    assert _ledger(paid_order) == [
        (f"sale:{paid_order.number}", "sale", TOTAL, DONATION),
        (f"refund:{refund_id}", "refund", Decimal("10.00"), Decimal("2.89")),
    ]
    assert _beneficiary_debits(f"refund:{refund_id}") == {
        RLN: Decimal("0.97"), COMING_OUT: Decimal("0.96"), SPHERE: Decimal("0.96")}
    assert _payables() == {RLN: Decimal("1.92"), COMING_OUT: Decimal("1.93"), SPHERE: Decimal("1.93")}
    assert _events(paid_order, "Refunded") == [(refund_id, Decimal("10.00"))]
    assert _source(paid_order).amount_refunded == Decimal("10.00")
    assert services.refunded_or_reserved(paid_order) == Decimal("10.00")
    assert _reload(paid_order).status == "Paid"
    _ledger_ok()
    done = shop_rows()

    # when every path reports it again, and the first event is delivered a second time
    for again in PATHS:
        _news(again, client, fake_stripe, charge_id=charge_id, refund_id=refund_id)

    # then nothing is added
    assert _without_events(shop_rows()) == _without_events(done)
    assert LedgerTransaction.objects.count() == 2
    assert _source(paid_order).amount_refunded == Decimal("10.00")
    _ledger_ok()


# --- pending, then failed -----------------------------------------------------------------------------


@pytest.mark.parametrize("status, path", [
    ("failed", "refund.failed"), ("failed", "reconcile_payments"), ("canceled", "refund.updated"),
])
def test_pending_refund_that_fails_releases_the_reservation_and_reverses_nothing(client, paid_order, fake_stripe,
                                                                                fake_gateway, status, path):
    # given a pending staff refund of 10.00
    row = _refund(paid_order, Decimal("10.00"), fake_gateway)
    assert services.refunded_or_reserved(paid_order) == Decimal("10.00")
    charge_id = _charge_id(fake_gateway, paid_order)

    # when it fails (or is canceled) at Stripe and the news arrives by `path`
    fake_stripe.set_refund_status(row.refund_id, status, "expired_or_canceled_card" if status == "failed" else None)
    _news(path, client, fake_stripe, charge_id=charge_id, refund_id=row.refund_id)

    # then the reservation is released and nothing was ever reversed or refunded
    row.refresh_from_db()
    assert (row.status, row.error, row.recorded_at, row.restored_at) == (
        status, "expired_or_canceled_card" if status == "failed" else "", None, None)
    assert services.refunded_or_reserved(paid_order) == ZERO
    assert _ledger(paid_order) == [(f"sale:{paid_order.number}", "sale", TOTAL, DONATION)]
    assert _payables() == BEFORE_REFUNDS
    assert _source(paid_order).amount_refunded == ZERO
    assert _events(paid_order, "Refunded") == [] and _events(paid_order, "Refund failed") == []
    assert _reload(paid_order).status == "Paid"
    failed = shop_rows()

    # when it is reported again by every path
    for again in ("refund.failed", "charge.refund.updated", "refund.updated", "charge.refunded",
                  "reconcile_payments"):
        _news(again, client, fake_stripe, charge_id=charge_id, refund_id=row.refund_id)

    # then nothing changes
    assert _without_events(shop_rows()) == _without_events(failed)
    assert LedgerTransaction.objects.count() == 1

    # and the whole 30.00, the failed 10.00 included, can be refunded again
    again = _refund(paid_order, TOTAL, fake_gateway)
    assert (again.status, again.amount) == (StripeRefund.PENDING, TOTAL)
    assert services.refunded_or_reserved(paid_order) == TOTAL
    assert len(_refund_posts(fake_stripe)) == 2
    _ledger_ok()


# --- succeeded, then failed ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["refund.failed", "charge.refund.updated", "reconcile_payments"])
def test_refund_failing_after_it_succeeded_restores_the_donation_once(client, paid_order, fake_stripe,
                                                                     fake_gateway, path):
    # given the whole order refunded: 30.00, succeeded, the whole donation reversed, the order Refunded
    row = _refund(paid_order, TOTAL, fake_gateway)
    refund_id = row.refund_id
    charge_id = _charge_id(fake_gateway, paid_order)
    fake_stripe.set_refund_status(refund_id, "succeeded")
    _deliver(client, fake_stripe, "refund.updated", refund_id)
    assert _reload(paid_order).status == "Refunded"
    assert _payables() == {RLN: ZERO, COMING_OUT: ZERO, SPHERE: ZERO}
    assert _source(paid_order).amount_refunded == TOTAL

    # when the refund fails at Stripe afterwards (the card was closed) and the news arrives by `path`
    fake_stripe.set_refund_status(refund_id, "failed", "expired_or_canceled_card")
    _news(path, client, fake_stripe, charge_id=charge_id, refund_id=refund_id)

    # then the reversal is restored once, by a transaction mirroring it, and the money counts as paid again
    row.refresh_from_db()
    assert (row.status, row.error) == (StripeRefund.FAILED, "expired_or_canceled_card")
    assert row.recorded_at is not None and row.restored_at is not None
    assert _ledger(paid_order) == [
        (f"sale:{paid_order.number}", "sale", TOTAL, DONATION),
        (f"refund:{refund_id}", "refund", TOTAL, DONATION),
        (f"restore:refund:{refund_id}", "restoration", TOTAL, DONATION),
    ]
    restoration = LedgerTransaction.objects.get(idempotency_key=f"restore:refund:{refund_id}")
    reversal = LedgerTransaction.objects.get(idempotency_key=f"refund:{refund_id}")
    assert restoration.reference == f"refund:{refund_id}"
    assert sorted((e.account_id, e.debit, e.credit) for e in restoration.entries.all()) == sorted(
        (e.account_id, e.credit, e.debit) for e in reversal.entries.all())
    assert Entry.objects.get(transaction=restoration, account__kind=Account.Kind.DONATIONS).debit == DONATION
    assert _payables() == BEFORE_REFUNDS
    assert _reload(paid_order).status == "Paid"
    # the lines follow the order back (Oscar cascaded Refunded to them), and the history shows the change
    assert list(paid_order.lines.values_list("status", flat=True)) == ["Paid"]
    assert list(paid_order.status_changes.order_by("pk").values_list("old_status", "new_status")) == [
        ("Pending payment", "Paid"), ("Paid", "Refunded"), ("Refunded", "Paid")]
    assert _source(paid_order).amount_refunded == ZERO
    assert _events(paid_order, "Refunded") == [(refund_id, TOTAL)]
    assert _events(paid_order, "Refund failed") == [(f"{refund_id}:failed", TOTAL)]
    assert services.refunded_or_reserved(paid_order) == ZERO
    assert OrderNote.objects.filter(order=paid_order, message__contains=f"{refund_id} of 30.00 USD failed after "
                                    "it had succeeded").count() == 1
    _ledger_ok()
    restored = shop_rows()

    # when every path reports the failure again
    for again in ("refund.failed", "charge.refund.updated", "refund.updated", "charge.refunded",
                  "reconcile_payments"):
        _news(again, client, fake_stripe, charge_id=charge_id, refund_id=refund_id)

    # then nothing is added
    assert _without_events(shop_rows()) == _without_events(restored)
    assert LedgerTransaction.objects.count() == 3

    # when staff refund the same 30.00 again and this refund succeeds
    second = _refund(paid_order, TOTAL, fake_gateway)
    fake_stripe.set_refund_status(second.refund_id, "succeeded")
    _deliver(client, fake_stripe, "charge.refunded", charge_id)

    # then the donation is reversed again, whole and once, and the order is Refunded
    assert _ledger(paid_order)[3:] == [(f"refund:{second.refund_id}", "refund", TOTAL, DONATION)]
    assert _beneficiary_debits(f"refund:{second.refund_id}") == BEFORE_REFUNDS
    assert _payables() == {RLN: ZERO, COMING_OUT: ZERO, SPHERE: ZERO}
    assert _reload(paid_order).status == "Refunded"
    assert list(paid_order.lines.values_list("status", flat=True)) == ["Refunded"]
    assert _source(paid_order).amount_refunded == TOTAL
    assert _events(paid_order, "Refunded") == [(refund_id, TOTAL), (second.refund_id, TOTAL)]
    assert "unchanged 1" in _reconcile()
    assert LedgerTransaction.objects.count() == 4
    _ledger_ok()


# --- reservations that never reached Stripe -----------------------------------------------------------


def _made_old(row, minutes=11):
    StripeRefund.objects.filter(pk=row.pk).update(created_at=timezone.now() - timezone.timedelta(minutes=minutes))


def test_old_reservations_are_recorded_when_stripe_made_them_and_released_when_not(client, paid_order, fake_stripe,
                                                                                  fake_gateway, settings):
    # given a 10.00 refund Stripe made but whose answer was lost (the worker saw no answer)
    fake_stripe.fault("POST", "^/v1/refunds$", "lose_answer")
    with pytest.raises(StripeUnreachable):
        services.start_refund(order=paid_order, amount=Decimal("10.00"), request_id="a" * 32, gateway=fake_gateway)
    made = StripeRefund.objects.get(request_id="a" * 32)
    assert (made.status, made.refund_id) == (StripeRefund.REQUESTED, None)
    (at_stripe,) = fake_stripe.objects("refund")
    assert at_stripe["metadata"]["request_id"] == "a" * 32
    fake_stripe.set_refund_status(at_stripe["id"], "succeeded")

    # and a 5.00 refund that never reached Stripe at all (Stripe unreachable)
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StripeUnreachable):
        services.start_refund(order=paid_order, amount=Decimal("5.00"), request_id="b" * 32)
    settings.STRIPE_API_BASE = fake_stripe.url
    lost = StripeRefund.objects.get(request_id="b" * 32)
    assert (lost.status, lost.refund_id) == (StripeRefund.REQUESTED, None)
    assert len(fake_stripe.objects("refund")) == 1
    assert services.refunded_or_reserved(paid_order) == Decimal("15.00")

    # when both are more than ten minutes old and the reconciler runs
    _made_old(made)
    _made_old(lost)
    out = _reconcile()

    # then the one Stripe made is recorded once, found by its request id, and the other released with a note
    assert f"order {paid_order.number}: refunds settled" in out
    assert "repaired 1" in out
    made.refresh_from_db()
    lost.refresh_from_db()
    assert (made.status, made.refund_id, made.amount) == (StripeRefund.SUCCEEDED, at_stripe["id"], Decimal("10.00"))
    assert (lost.status, lost.refund_id, lost.error) == (
        StripeRefund.FAILED, None, "never reached Stripe: reservation released")
    assert OrderNote.objects.filter(order=paid_order, message=f"Refund request {'b' * 32} of 5.00 USD never "
                                    "reached Stripe: released.").count() == 1
    assert _ledger(paid_order)[1:] == [(f"refund:{at_stripe['id']}", "refund", Decimal("10.00"), Decimal("2.89"))]
    assert _events(paid_order, "Refunded") == [(at_stripe["id"], Decimal("10.00"))]
    assert _source(paid_order).amount_refunded == Decimal("10.00")
    assert services.refunded_or_reserved(paid_order) == Decimal("10.00")
    settled = shop_rows()

    # when the reconciler runs again
    assert "unchanged 1" in _reconcile()

    # then nothing more happens
    assert shop_rows() == settled

    # when staff refund 5.00 again, and a refund of the other 15.00 is made in Stripe's dashboard
    again = _refund(paid_order, Decimal("5.00"), fake_gateway)
    charge_id = _charge_id(fake_gateway, paid_order)
    dashboard = fake_stripe.create_refund_as_dashboard(charge_id, amount=1500)
    fake_stripe.set_refund_status(again.refund_id, "succeeded")
    _deliver(client, fake_stripe, "charge.refunded", charge_id)

    # then both are recorded once, the order is wholly refunded and its whole donation reversed. The event
    # lists the charge's refunds newest first: the dashboard's 15.00 (cumulative 25.00 of 30.00, target
    # 8.67 x 25 / 30 = 7.225 -> 7.23, so 7.23 - 2.89 = 4.34), then the staff's 5.00 (the rest: 8.67 - 7.23 = 1.44)
    rows = {r.refund_id: r for r in StripeRefund.objects.filter(order=paid_order)}
    assert (rows[again.refund_id].status, rows[dashboard["id"]].status) == (StripeRefund.SUCCEEDED,) * 2
    assert (rows[dashboard["id"]].amount, rows[dashboard["id"]].request_id) == (Decimal("15.00"), None)
    reversals = {key: total for key, kind, _, total in _ledger(paid_order) if kind == "refund"}
    assert reversals == {f"refund:{at_stripe['id']}": Decimal("2.89"), f"refund:{again.refund_id}": Decimal("1.44"),
                         f"refund:{dashboard['id']}": Decimal("4.34")}
    assert _payables() == {RLN: ZERO, COMING_OUT: ZERO, SPHERE: ZERO}
    assert _reload(paid_order).status == "Refunded"
    assert _source(paid_order).amount_refunded == TOTAL
    done = shop_rows()
    assert "unchanged 1" in _reconcile()
    _deliver(client, fake_stripe, "charge.refunded", charge_id)
    assert _without_events(shop_rows()) == _without_events(done)
    _ledger_ok()


def test_a_500_from_stripe_releases_the_reservation_at_once(paid_order, fake_stripe, fake_gateway):
    # given Stripe answers the refund request with a 500 before doing anything
    fake_stripe.fault("POST", "^/v1/refunds$", "error_before")

    # when staff refund 10.00
    with pytest.raises(PaymentError) as raised:
        services.start_refund(order=paid_order, amount=Decimal("10.00"), request_id="c" * 32, gateway=fake_gateway)

    # then Stripe refused and made nothing, and the reservation is released at once
    assert "Stripe refused to create a refund" in str(raised.value)
    assert fake_stripe.objects("refund") == []
    row = StripeRefund.objects.get()
    assert (row.status, row.refund_id) == (StripeRefund.FAILED, None)
    assert services.refunded_or_reserved(paid_order) == ZERO
    assert _ledger(paid_order) == [(f"sale:{paid_order.number}", "sale", TOTAL, DONATION)]


# --- refunds made in Stripe's dashboard, and lost webhooks ---------------------------------------------


def test_whole_refund_made_in_stripes_dashboard_is_recorded_once(client, paid_order, fake_stripe, fake_gateway):
    # given the whole 30.00 refunded in Stripe's dashboard (no idempotency key, no metadata)
    charge_id = _charge_id(fake_gateway, paid_order)
    refund = fake_stripe.create_refund_as_dashboard(charge_id)
    assert (refund["amount"], refund["status"], refund["metadata"]) == (3000, "succeeded", {})

    # when Stripe reports it (charge.refunded)
    answer = _deliver(client, fake_stripe, "charge.refunded", charge_id)

    # then it is recorded once: the order Refunded, the whole donation reversed once
    assert answer == {"outcome": "processed",
                      "detail": f"order {paid_order.number}: refunds {refund['id']}:succeeded"}
    row = StripeRefund.objects.get()
    assert (row.refund_id, row.request_id, row.amount, row.status, row.lines) == (
        refund["id"], None, TOTAL, StripeRefund.SUCCEEDED, {})
    assert _ledger(paid_order)[1:] == [(f"refund:{refund['id']}", "refund", TOTAL, DONATION)]
    assert _payables() == {RLN: ZERO, COMING_OUT: ZERO, SPHERE: ZERO}
    assert _reload(paid_order).status == "Refunded"
    assert _source(paid_order).amount_refunded == TOTAL
    assert _events(paid_order, "Refunded") == [(refund["id"], TOTAL)]
    done = shop_rows()

    # when every path reports it again
    for again in PATHS:
        _news(again, client, fake_stripe, charge_id=charge_id, refund_id=refund["id"])

    # then nothing is added
    assert _without_events(shop_rows()) == _without_events(done)
    assert LedgerTransaction.objects.count() == 2
    _ledger_ok()


def test_reconcile_repairs_once_a_refund_whose_webhooks_were_all_lost(paid_order, fake_stripe, fake_gateway):
    # given a refund of the whole order that succeeded at Stripe and whose webhooks never arrived
    refund = fake_stripe.create_refund_as_dashboard(_charge_id(fake_gateway, paid_order))
    assert fake_gateway.retrieve_charge(refund["charge"]).amount_refunded == TOTAL
    assert StripeRefund.objects.count() == 0

    # when the reconciler runs
    first = _reconcile()

    # then it repairs the order once: the refund recorded, one reversal of the whole donation
    assert f"order {paid_order.number}: refunds recorded" in first
    assert "reconciled: captured 0, cancelled 0, repaired 1, unchanged 0, errors 0" in first
    assert list(StripeRefund.objects.values_list("refund_id", "amount", "status")) == [
        (refund["id"], TOTAL, StripeRefund.SUCCEEDED)]
    assert _ledger(paid_order)[1:] == [(f"refund:{refund['id']}", "refund", TOTAL, DONATION)]
    assert _reload(paid_order).status == "Refunded"
    repaired = shop_rows()

    # when it runs again
    second = _reconcile()

    # then there is nothing left to do
    assert "reconciled: captured 0, cancelled 0, repaired 0, unchanged 1, errors 0" in second
    assert shop_rows() == repaired
    assert LedgerTransaction.objects.count() == 2
    _ledger_ok()


# --- refused before Stripe ----------------------------------------------------------------------------


def test_refund_above_what_is_left_is_refused_and_reaches_nobody(staff_client, paid_order, fake_stripe,
                                                                 fake_gateway):
    # given the paid 30.00 order, nothing refunded
    before = shop_rows()

    # when staff ask for 30.01, through the service and through the dashboard (its confirmed form)
    with pytest.raises(services.RefundRefused) as refused:
        _refund(paid_order, Decimal("30.01"), fake_gateway)
    response = staff_client.post(
        reverse("payments-dashboard:order-refund", kwargs={"number": paid_order.number}),
        {"scope": "amount", "amount": "30.01", "request_id": uuid.uuid4().hex, "reason": "", "confirm": "1"})

    # then both are refused with the amount left, and nothing is written here or at Stripe
    message = "Cannot refund 30.01 USD: only 30.00 USD of the 30.00 captured is left to refund."
    assert str(refused.value) == message
    assert response.status_code == 400
    assert message in response.content.decode()
    assert shop_rows() == before
    assert _refund_posts(fake_stripe) == []

    # when 10.00 is pending and staff ask for 20.01 more
    _refund(paid_order, Decimal("10.00"), fake_gateway)
    pending = shop_rows()
    with pytest.raises(services.RefundRefused) as refused:
        _refund(paid_order, Decimal("20.01"), fake_gateway)

    # then the pending 10.00 counts as taken: refused, nothing written, one refund at Stripe
    assert str(refused.value) == "Cannot refund 20.01 USD: only 20.00 USD of the 30.00 captured is left to refund."
    assert shop_rows() == pending
    assert len(_refund_posts(fake_stripe)) == 1
