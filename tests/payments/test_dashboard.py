"""The payment pages of Oscar's dashboard (shop/payments/dashboard/).

Order status follows the money (issue 12, DESIGN step 8): nothing staff click or post in Oscar's dashboard
sets Paid, Refunded or Cancelled; only the fulfilment steps change anything; a pending order is cancelled by
its own button, which cancels its payment at Stripe first.

A refund always shows what it will do before doing it (issue 12 part 2): no default scope, contradictory
forms refused, a confirmation page whose figures are the reversal posted afterwards to the cent, one refund
however often the confirmation is posted, the order page's payment state, the fan's refund email.
"""

import uuid
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from oscar.core.loading import get_model

from fundraising.models import Entry, LedgerTransaction
from shop.payments.models import PaymentAttempt, StripeRefund
from tests.payments.conftest import place_order
from tests.payments.events import shop_rows, signed_post

Order = get_model("order", "Order")
PaymentEvent = get_model("order", "PaymentEvent")

ALL_STATUSES = ["Pending payment", "Paid", "Being processed", "Shipped", "Refunded", "Cancelled"]
# (from, to) that staff may do: the fulfilment steps the pipeline allows
FULFILMENT = {("Paid", "Being processed"), ("Being processed", "Shipped")}


# --- order status follows the money -------------------------------------------------------------------


def _order_in(status, client, placed_order):
    """An order in `status`, reached the way the shop reaches it (paid at the Stripe-shaped fake)."""
    if status == "Pending payment":
        return placed_order
    if status == "Cancelled":
        from shop.payments import services
        assert services.cancel_unpaid_order(order=placed_order) == "cancelled"
        return Order.objects.get(pk=placed_order.pk)
    response = client.post(reverse("checkout:pay", kwargs={"order_number": placed_order.number}),
                           {"payment_method": "pm_card_visa"}, HTTP_ACCEPT="application/json")
    assert response.json()["status"] == "succeeded"
    if status != "Paid":  # the fulfilment steps (and Refunded, as if refunded) set directly for the test
        Order.objects.filter(pk=placed_order.pk).update(status=status)
    return Order.objects.get(pk=placed_order.pk)


def _money_rows(order):
    return (Order.objects.get(pk=order.pk).status, PaymentEvent.objects.filter(order=order).count(),
            LedgerTransaction.objects.count(), Entry.objects.count(),
            PaymentAttempt.objects.filter(order=order).count())


@pytest.mark.parametrize("via", ["order page", "bulk action"])
@pytest.mark.parametrize("start", ALL_STATUSES)
def test_only_fulfilment_steps_change_anything(client, staff_client, placed_order, fake_stripe, campaign, start, via):
    order = _order_in(start, client, placed_order)
    for target in ALL_STATUSES:
        Order.objects.filter(pk=order.pk).update(status=start)
        before = _money_rows(order)
        # when staff post the status (the page's form, or the list's bulk action), even one the form never offers
        if via == "order page":
            response = staff_client.post(reverse("dashboard:order-detail", kwargs={"number": order.number}),
                                         {"order_action": "change_order_status", "new_status": target}, follow=True)
        else:
            response = staff_client.post(reverse("dashboard:order-list"),
                                         {"action": "change_order_statuses", "selected_order": [order.pk],
                                          "new_status": target}, follow=True)
        after = _money_rows(order)
        notes = [str(m) for m in response.context["messages"]]
        if (start, target) in FULFILMENT:
            # then a fulfilment step changes the status and nothing else
            assert after == (target,) + before[1:], (start, target)
            assert any("Order status changed" in m for m in notes), notes
        else:
            # then anything else is refused with a message, and nothing changed
            assert after == before, (start, target)
            assert notes and not any("Order status changed" in m for m in notes), (start, target, notes)


def test_the_status_form_offers_only_the_allowed_fulfilment_step(client, staff_client, placed_order, fake_stripe):
    pending = staff_client.get(reverse("dashboard:order-detail", kwargs={"number": placed_order.number}))
    assert [c[0] for c in pending.context["order_status_form"].fields["new_status"].choices] == []
    assert b"Cancel unpaid order" in pending.content
    paid = _order_in("Paid", client, placed_order)
    page = staff_client.get(reverse("dashboard:order-detail", kwargs={"number": paid.number}))
    assert [c[0] for c in page.context["order_status_form"].fields["new_status"].choices] == ["Being processed"]
    assert b"Cancel unpaid order" not in page.content
    listing = staff_client.get(reverse("dashboard:order-list")).content.decode()
    bulk = listing[listing.index('id="p6-bulk-status"'):]
    bulk = bulk[:bulk.index("</select>")]
    assert bulk.count("<option value=") == 3  # the placeholder, Being processed, Shipped
    assert '<option value="Being processed">' in bulk and '<option value="Shipped">' in bulk


def test_staff_cannot_record_payment_events_by_hand(client, staff_client, placed_order, fake_stripe):
    # given the "paid" payment event type the payment services use
    PaymentEventType = get_model("order", "PaymentEventType")
    PaymentEventType.objects.get_or_create(code="paid", defaults={"name": "Paid"})
    before = _money_rows(placed_order)
    # when staff post Oscar's "create payment event" form for the whole order
    response = staff_client.post(reverse("dashboard:order-detail", kwargs={"number": placed_order.number}),
                                 {"order_action": "create_order_payment_event", "amount": "30.00",
                                  "payment_event_type": "paid"}, follow=True)
    # then it is refused by our event handler with a message, and nothing changed
    messages = [str(m) for m in response.context["messages"]]
    assert any("Payment events are recorded by the payment services" in m for m in messages), messages
    assert _money_rows(placed_order) == before


def test_the_cancel_button_cancels_the_payment_at_stripe_first(client, staff_client, placed_order, fake_stripe):
    # given a pending order whose fan is in the middle of 3D Secure
    pay = client.post(reverse("checkout:pay", kwargs={"order_number": placed_order.number}),
                      {"payment_method": "pm_card_threeDSecure2Required"}, HTTP_ACCEPT="application/json")
    assert pay.json()["status"] == "requires_action"
    # when staff press "Cancel unpaid order"
    response = staff_client.post(reverse("payments-dashboard:order-cancel", kwargs={"number": placed_order.number}),
                                 follow=True)
    # then the intent is cancelled at Stripe, the order Cancelled with a note naming who, stock released
    assert [m.message for m in response.context["messages"]][-1].startswith(f"Order {placed_order.number} cancelled")
    assert [i["status"] for i in fake_stripe.objects("payment_intent")] == ["canceled"]
    order = Order.objects.get(pk=placed_order.pk)
    assert order.status == "Cancelled"
    assert list(order.lines.values_list("num_allocated", flat=True)) == [0]
    assert order.notes.filter(message__startswith="Cancelled by staff (staff)").count() == 1
    # and pressing it again (a second tab) changes nothing
    again = staff_client.post(reverse("payments-dashboard:order-cancel", kwargs={"number": placed_order.number}),
                              follow=True)
    assert "only an order pending payment can be cancelled" in [m.message for m in again.context["messages"]][-1]
    assert order.notes.count() == 1


def test_the_cancel_button_refuses_a_paid_order(client, staff_client, placed_order, fake_stripe, campaign):
    order = _order_in("Paid", client, placed_order)
    before = _money_rows(order)
    staff_client.post(reverse("payments-dashboard:order-cancel", kwargs={"number": order.number}))
    assert _money_rows(order) == before


def test_the_cancel_button_is_staff_only(client, placed_order, fake_stripe, django_user_model):
    customer = django_user_model.objects.create_user(username="c", email="c@example.org", password="pw-123456789")
    client.force_login(customer)
    response = client.post(reverse("payments-dashboard:order-cancel", kwargs={"number": placed_order.number}))
    assert response.status_code in (302, 403)
    assert Order.objects.get(pk=placed_order.pk).status == "Pending payment"


# --- a refund shows what it will do before doing it ---------------------------------------------------


@pytest.fixture
def paid_order(client, p6_catalogue, campaign, fake_stripe):
    """Two black M T-shirts (2 x 30.00) and a tote bag (20.00), paid at the Stripe-shaped fake."""
    order, _ = place_order(client, skus=(("P6-TEE-BLK-M", 2), ("P6-TOTE", 1)))
    response = client.post(reverse("checkout:pay", kwargs={"order_number": order.number}),
                           {"payment_method": "pm_card_visa"}, HTTP_ACCEPT="application/json")
    assert response.json()["status"] == "succeeded"
    return Order.objects.get(pk=order.pk)


def _url(order):
    return reverse("payments-dashboard:order-refund", kwargs={"number": order.number})


def _form(order, scope=None, **fields):
    data = {"request_id": uuid.uuid4().hex, "reason": "", "amount": ""}
    for line in order.lines.all():
        data[f"line_{line.pk}"] = "0"
    if scope:
        data["scope"] = scope
    data.update(fields)
    return data


def _errors(response):
    form = response.context["form"]
    return [error for errors in form.errors.values() for error in errors]


def test_the_form_has_no_default_scope(staff_client, paid_order):
    form = staff_client.get(_url(paid_order)).context["form"]
    assert form.initial.get("scope") is None
    assert "checked" not in str(form["scope"])


@pytest.mark.parametrize(("scope", "fields", "message"), [
    (None, {"amount": "5"}, "Choose what to refund: the whole order, chosen lines or an amount."),
    ("whole", {"amount": "5"}, "An amount is typed but the refund is not “an amount”"),
    ("lines", {"amount": "5"}, "An amount is typed but the refund is not “an amount”"),
    ("amount", {"amount": "5", "line_first": "1"}, "Items are chosen but the refund is not “chosen lines”"),
    ("whole", {"line_first": "1"}, "Items are chosen but the refund is not “chosen lines”"),
])
def test_a_form_that_contradicts_its_scope_is_refused_and_nothing_happens(staff_client, paid_order, fake_stripe,
                                                                         scope, fields, message):
    before = shop_rows()
    first = paid_order.lines.order_by("pk").first()
    fields = {(f"line_{first.pk}" if k == "line_first" else k): v for k, v in fields.items()}
    response = staff_client.post(_url(paid_order), _form(paid_order, scope, **fields))
    assert response.status_code == 400
    assert any(error.startswith(message) for error in _errors(response)), _errors(response)
    assert shop_rows() == before
    assert [r for r in fake_stripe.requests(method="POST") if r["path"] == "/v1/refunds"] == []


@pytest.mark.parametrize("scope", ["amount", "lines", "whole"])
def test_the_confirmation_shows_what_the_refund_will_do_and_posting_it_twice_refunds_once(
        client, staff_client, paid_order, fake_stripe, scope, django_capture_on_commit_callbacks):
    tee = paid_order.lines.get(partner_sku="P6-TEE-BLK-M")
    fields = {"amount": "12.34"} if scope == "amount" else {f"line_{tee.pk}": "1"} if scope == "lines" else {}
    form = _form(paid_order, scope, reason="goodwill", **fields)
    before = shop_rows()
    # when staff submit the form
    page = staff_client.post(_url(paid_order), form)
    # then a confirmation page, and nothing reserved or sent yet
    assert page.status_code == 200
    assert page.templates[0].name == "payments/dashboard/refund_confirm.html"
    assert shop_rows() == before
    assert [r for r in fake_stripe.requests(method="POST") if r["path"] == "/v1/refunds"] == []
    amount = {"amount": Decimal("12.34"), "lines": Decimal("30.00"), "whole": Decimal("80.00")}[scope]
    assert page.context["amount"] == amount
    assert page.context["left_after"] == Decimal("80.00") - amount
    preview = {b.slug: part for b, part in page.context["donation"]}
    assert sum(preview.values()) == page.context["donation_total"] > 0
    # when the confirmation is posted, twice (a double click)
    confirm = {**form, "confirm": "1"}
    assert staff_client.post(_url(paid_order), confirm).status_code == 302
    assert staff_client.post(_url(paid_order), confirm).status_code == 302
    # then one refund at Stripe (pending there), nothing reversed yet
    [refund] = [r for r in fake_stripe.objects("refund")]
    assert refund["amount"] == int(amount * 100)
    row = StripeRefund.objects.get()
    assert (row.status, row.amount) == ("pending", amount)
    assert not LedgerTransaction.objects.filter(kind="refund").exists()
    # when it succeeds at Stripe, then the reversal posted equals the confirmation's figures to the cent
    fake_stripe.set_refund_status(refund["id"], "succeeded")
    with django_capture_on_commit_callbacks(execute=True):
        assert signed_post(client, fake_stripe.event("refund.updated", refund["id"])).status_code == 200
    reversal = LedgerTransaction.objects.get(kind="refund")
    posted = {e.account.beneficiary.slug: e.debit for e in Entry.objects.filter(transaction=reversal, debit__gt=0)
              .select_related("account__beneficiary")}
    assert posted == preview
    # and the fan gets one email with the refund and the donation change
    refund_mails = [m for m in mail.outbox if m.subject == f"Your refund for order {paid_order.number}"]
    assert len(refund_mails) == 1
    body = refund_mails[0].body
    assert f"{amount:,}" in body or f"${amount}" in body
    assert f"${page.context['donation_total']}" in body


def test_the_order_page_shows_the_payment_state_and_hides_the_refund_when_nothing_is_left(
        client, staff_client, paid_order, fake_stripe, django_capture_on_commit_callbacks):
    detail = reverse("dashboard:order-detail", kwargs={"number": paid_order.number})

    def state():
        page = staff_client.get(detail)
        html = page.content.decode()
        start = html.index('id="p6-payment-state">') + len('id="p6-payment-state">')
        return html[start:html.index("</td>", start)], "Refund through Stripe" in html

    assert state() == ("Paid", True)
    form = _form(paid_order, "amount", amount="20.00", confirm="1")
    staff_client.post(_url(paid_order), form)
    assert state() == ("Refund pending ($20.00)", True)
    refund_id = StripeRefund.objects.get().refund_id
    fake_stripe.set_refund_status(refund_id, "succeeded")
    with django_capture_on_commit_callbacks(execute=True):
        signed_post(client, fake_stripe.event("refund.updated", refund_id))
    assert state() == ("Partly refunded: $20.00 of $80.00", True)
    staff_client.post(_url(paid_order), _form(paid_order, "whole", confirm="1"))
    rest = StripeRefund.objects.exclude(refund_id=refund_id).get()
    fake_stripe.set_refund_status(rest.refund_id, "succeeded")
    with django_capture_on_commit_callbacks(execute=True):
        signed_post(client, fake_stripe.event("refund.updated", rest.refund_id))
    assert state() == ("Refunded", False)
    assert Order.objects.get(pk=paid_order.pk).status == "Refunded"
