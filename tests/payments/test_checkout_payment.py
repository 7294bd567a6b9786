"""A fan pays a placed order by card through the payment page, against localstripe (issue #3)."""

import socket
import threading
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from oscar.core.loading import get_model

from shop.payments import services
from shop.payments.models import PaymentAttempt
from tests.payments.conftest import place_order
from tests.stripe_peer import authenticate_intent, count_objects, create_card_payment_method, free_port

Order = get_model("order", "Order")
StockRecord = get_model("partner", "StockRecord")
Source = get_model("payment", "Source")
PaymentEvent = get_model("order", "PaymentEvent")
Basket = get_model("basket", "Basket")

pytestmark = pytest.mark.django_db

DECLINING_CARD = "pm_card_chargeCustomerFail"  # localstripe declines this one at charge time
THREE_DS_CARD = "4000002500003155"


def _pay_url(order):
    return reverse("checkout:pay", kwargs={"order_number": order.number})


def _pay(client, order, **fields):
    return client.post(_pay_url(order), fields, HTTP_ACCEPT="application/json")


def _written(order):
    """Everything paying can write about an order."""
    return (
        Source.objects.filter(order=order).count(),
        PaymentEvent.objects.filter(order=order).count(),
        PaymentAttempt.objects.filter(order=order).count(),
        Order.objects.get(pk=order.pk).status,
    )


def test_placing_an_order_leaves_it_pending_payment_with_its_stock_allocated(client, p6_catalogue, stripe_peer):
    # given a fan with two black M T-shirts in the basket
    before = StockRecord.objects.get(partner_sku="P6-TEE-BLK-M").num_allocated or 0
    # when the order is placed
    order, response = place_order(client, skus=(("P6-TEE-BLK-M", 2),))
    # then it waits for payment: allocated, basket submitted, no payment, no confirmation email yet (only the
    # order email with the way back to the payment page, issue 12)
    assert order.status == "Pending payment"
    assert order.total_incl_tax == Decimal("60.00") and order.currency == "USD"
    assert StockRecord.objects.get(partner_sku="P6-TEE-BLK-M").num_allocated == before + 2
    assert Basket.objects.get(pk=order.basket_id).status == "Submitted"
    assert _written(order) == (0, 0, 0, "Pending payment")
    assert [m.subject for m in mail.outbox] == [f"Order {order.number}: complete your payment"]
    # and the payment page offers the card form for its total, with localstripe's Stripe.js
    page = client.get(response["Location"])
    content = page.content.decode()
    assert page.status_code == 200
    assert 'id="card-element"' in content and "$60.00" in content
    assert f"{stripe_peer.url}/js.stripe.com/v3/" in content


def test_a_good_card_pays_the_order_once(client, placed_order, stripe_peer, django_capture_on_commit_callbacks):
    # when the fan pays with a good card
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_pay_url(placed_order), {"payment_method": "pm_card_visa"})
    # then the order is paid: one Stripe source for the total, one payment event, the status, one email
    assert response.status_code == 302 and response["Location"] == reverse("checkout:thank-you")
    order = Order.objects.get(pk=placed_order.pk)
    assert order.status == "Paid"
    source = Source.objects.get(order=order)
    assert (source.amount_debited, source.amount_allocated, source.currency) == (
        Decimal("30.00"), Decimal("30.00"), "USD")
    assert source.reference.startswith("pi_")
    event = PaymentEvent.objects.get(order=order)
    assert (event.event_type.code, event.amount, event.reference) == ("paid", Decimal("30.00"), source.reference)
    assert [(q.line_id, q.quantity) for q in event.line_quantities.all()] == [
        (line.pk, line.quantity) for line in order.lines.all()]
    assert set(order.lines.values_list("status", flat=True)) == {"Paid"}
    attempt = PaymentAttempt.objects.get(order=order)
    assert (attempt.number, attempt.status, attempt.intent_id) == (1, "succeeded", source.reference)
    # (after the order email sent at placement, issue 12)
    assert len(mail.outbox) == 2 and mail.outbox[1].to == ["fan@example.org"]
    assert mail.outbox[1].subject == f"Confirmation of order {order.number}"
    # and the thank-you page shows the order
    thanks = client.get(response["Location"])
    assert thanks.status_code == 200 and str(order.number) in thanks.content.decode()
    # and paying again is refused: the order is not payable any more
    again = _pay(client, order, payment_method="pm_card_visa")
    assert again.status_code == 409
    assert _written(order) == (1, 1, 1, "Paid")
    assert count_objects(stripe_peer.url, "payment_intents") == 1


def test_a_declined_card_leaves_the_order_payable_and_another_card_pays_it(client, placed_order, stripe_peer):
    # when the fan's card is declined
    response = _pay(client, placed_order, payment_method=DECLINING_CARD)
    # then a clear message, the order still payable, no money recorded
    assert response.status_code == 402
    assert response.json()["status"] == "declined"
    assert "declined" in response.json()["message"].lower()
    assert _written(placed_order) == (0, 0, 1, "Pending payment")
    assert PaymentAttempt.objects.get(order=placed_order).status == "failed"
    # when the fan pays again with another card
    response = _pay(client, placed_order, payment_method="pm_card_visa")
    # then a new PaymentIntent pays the order
    assert response.status_code == 200 and response.json()["status"] == "succeeded"
    assert _written(placed_order) == (1, 1, 2, "Paid")
    assert list(PaymentAttempt.objects.filter(order=placed_order).values_list("number", "status")) == [
        (1, "canceled"), (2, "succeeded")]  # the declined intent was cancelled at Stripe before the next one
    assert count_objects(stripe_peer.url, "payment_intents") == 2


def test_a_declined_form_post_re_renders_the_page_with_the_message(client, placed_order, stripe_peer):
    response = client.post(_pay_url(placed_order), {"payment_method": DECLINING_CARD})
    assert response.status_code == 402
    assert "declined" in response.content.decode().lower()
    assert 'id="card-element"' in response.content.decode()


def test_3d_secure_completed_in_the_browser_pays_the_order(client, placed_order, stripe_peer):
    # given a card that asks for 3D Secure
    payment_method = create_card_payment_method(stripe_peer.url, THREE_DS_CARD)
    # when the fan pays, the server answers that the bank wants authentication
    answer = _pay(client, placed_order, payment_method=payment_method).json()
    assert answer["status"] == "requires_action" and answer["client_secret"]
    assert _written(placed_order) == (0, 0, 1, "Pending payment")
    # when the browser completes it and the page asks the server to check again
    authenticate_intent(stripe_peer.url, answer["intent"], client_secret=answer["client_secret"], success=True)
    response = _pay(client, placed_order, intent=answer["intent"])
    # then the order is paid
    assert response.status_code == 200 and response.json()["status"] == "succeeded"
    assert _written(placed_order) == (1, 1, 1, "Paid")


def test_failed_3d_secure_leaves_the_order_payable(client, placed_order, stripe_peer):
    payment_method = create_card_payment_method(stripe_peer.url, THREE_DS_CARD)
    answer = _pay(client, placed_order, payment_method=payment_method).json()
    authenticate_intent(stripe_peer.url, answer["intent"], client_secret=answer["client_secret"], success=False)
    response = _pay(client, placed_order, intent=answer["intent"])
    assert response.status_code == 402
    assert "authentication" in response.json()["message"].lower()
    assert _written(placed_order) == (0, 0, 1, "Pending payment")
    # and a good card still pays it
    assert _pay(client, placed_order, payment_method="pm_card_visa").json()["status"] == "succeeded"
    assert _written(placed_order) == (1, 1, 2, "Paid")


def test_stripe_unreachable_gives_a_clear_message_and_writes_nothing(client, placed_order, stripe_peer, settings):
    # given Stripe cannot be reached (nothing listens on that port)
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"
    # when the fan pays
    response = _pay(client, placed_order, payment_method="pm_card_visa")
    # then a clear message, and nothing written: the order stays payable
    assert response.status_code == 503
    assert "could not reach our payment provider" in response.json()["message"]
    # and no money recorded: only the attempt, kept because whether Stripe made its intent is unknown (the
    # next pay request looks it up by its idempotency key before charging anything)
    assert _written(placed_order) == (0, 0, 1, "Pending payment")
    assert list(PaymentAttempt.objects.filter(order=placed_order).values_list("status", "intent_id")) == [
        ("error", None)]


def test_stripe_hanging_times_out_with_a_clear_message_and_writes_nothing(client, placed_order, stripe_peer,
                                                                           settings):
    # given a Stripe that accepts connections and never answers
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{listener.getsockname()[1]}"
    settings.STRIPE_TIMEOUT = 1
    try:
        # when the fan pays
        response = _pay(client, placed_order, payment_method="pm_card_visa")
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in accepted:
            conn.close()
        listener.close()
    # then the request timed out into a clear message and nothing was written
    assert accepted, "the request never reached the hanging server"
    assert response.status_code == 503
    assert "could not reach our payment provider" in response.json()["message"]
    # and no money recorded: only the attempt, kept because whether Stripe made its intent is unknown (the
    # next pay request looks it up by its idempotency key before charging anything)
    assert _written(placed_order) == (0, 0, 1, "Pending payment")
    assert list(PaymentAttempt.objects.filter(order=placed_order).values_list("status", "intent_id")) == [
        ("error", None)]


def test_another_visitor_cannot_see_or_pay_the_order(client, placed_order, stripe_peer, django_user_model):
    from django.test import Client

    stranger = Client()
    assert stranger.get(_pay_url(placed_order)).status_code == 404
    assert stranger.post(_pay_url(placed_order), {"payment_method": "pm_card_visa"}).status_code == 404
    customer = django_user_model.objects.create_user(username="c", email="c@example.org", password="c-pass-123")
    stranger.force_login(customer)
    assert stranger.get(_pay_url(placed_order)).status_code == 404
    assert _written(placed_order) == (0, 0, 0, "Pending payment")


def test_a_post_without_card_details_is_refused(client, placed_order, stripe_peer):
    response = _pay(client, placed_order)
    assert response.status_code == 400
    assert response.json()["message"] == "No card details were received. Please try again."
    assert _written(placed_order) == (0, 0, 0, "Pending payment")


def test_payment_captured_twice_records_once(client, placed_order, stripe_peer, gateway,
                                            django_capture_on_commit_callbacks):
    # given an intent that succeeded for the order (the webhook and the page both learn of it)
    with django_capture_on_commit_callbacks(execute=True):
        assert _pay(client, placed_order, payment_method="pm_card_visa").json()["status"] == "succeeded"
    intent = gateway.retrieve_intent(Source.objects.get(order=placed_order).reference)
    # when the second caller arrives
    with django_capture_on_commit_callbacks(execute=True):
        result = services.payment_captured(order=placed_order, intent=intent, gateway=gateway)
    # then it finds the work done and does nothing
    assert result.outcome == "already_captured"
    assert _written(placed_order) == (1, 1, 1, "Paid")
    assert len(mail.outbox) == 2  # the order email at placement, and one confirmation


def test_a_captured_amount_that_differs_from_the_order_is_never_marked_paid(placed_order, stripe_peer, gateway):
    # given an intent of ours that captured less than the order total
    intent = gateway.create_intent(amount=Decimal("1.00"), currency="USD", order_number=str(placed_order.number),
                                   attempt=1)
    PaymentAttempt.objects.create(order=placed_order, number=1, intent_id=intent.id, amount=intent.amount,
                                  currency="USD")
    intent = gateway.confirm_intent(intent.id, payment_method="pm_card_visa")
    # when it is reported captured
    result = services.payment_captured(order=placed_order, intent=intent, gateway=gateway)
    # then the order is not paid, the money is an excess payment refunded at Stripe, and staff have a note
    assert result.outcome == "excess"
    assert _written(placed_order)[:2] == (0, 0)
    assert Order.objects.get(pk=placed_order.pk).status == "Pending payment"
    note = placed_order.notes.get()
    assert "1.00 USD" in note.message and "30.00 USD" in note.message
    excess = services.ExcessPayment.objects.get(order=placed_order)
    assert (excess.amount, excess.intent_id, excess.status) == (Decimal("1.00"), intent.id, "recorded")
    services.refund_excess(excess=excess, gateway=gateway)  # what the commit hook does
    excess.refresh_from_db()
    assert (excess.status, excess.refunded_amount) == ("refunded", Decimal("1.00"))


def test_card_payments_not_configured_give_a_clear_message_not_a_500(client, placed_order, stripe_peer, settings):
    # given a shop whose Stripe secret key is missing
    settings.STRIPE_SECRET_KEY = ""
    # when the fan pays
    response = _pay(client, placed_order, payment_method="pm_card_visa")
    # then a clear 503 and nothing written
    assert response.status_code == 503
    assert response.json()["message"].startswith("Card payments are not available right now")
    assert _written(placed_order) == (0, 0, 0, "Pending payment")
