"""Order status follows the money (issue 12, DESIGN step 8): nothing staff click or post in Oscar's dashboard
sets Paid, Refunded or Cancelled; only the fulfilment steps change anything; a pending order is cancelled by
its own button, which cancels its payment at Stripe first; verify_ledger reports a status that lies."""


import pytest
from django.urls import reverse
from oscar.core.loading import get_model

from fundraising.models import Entry, LedgerTransaction
from shop.payments.models import PaymentAttempt

Order = get_model("order", "Order")
PaymentEvent = get_model("order", "PaymentEvent")

ALL_STATUSES = ["Pending payment", "Paid", "Being processed", "Shipped", "Refunded", "Cancelled"]
# (from, to) that staff may do: the fulfilment steps the pipeline allows
FULFILMENT = {("Paid", "Being processed"), ("Being processed", "Shipped")}



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
