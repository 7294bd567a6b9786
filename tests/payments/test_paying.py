"""Paying an order (shop/payments/services/paying.py; DESIGN "A sale, end to end" step 3) through the payment
page and the API. Against localstripe (issue #3): a good card pays once; a declined card, a failed 3D Secure,
an unreachable, hanging or unconfigured Stripe leave the order payable and say so. Against the Stripe-shaped
fake: a fan who left the payment page comes back and pays (issue 12, part 3), and a refused card is told in the
fan's language and plain words (part 4); one live PaymentIntent per order (issue 11 (a)-(c)): no second click,
second tab or lost answer can charge a fan twice; and the card-testing limits. The thread race runs on
PostgreSQL only."""

import re
import socket
import threading
import time
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from oscar.core.loading import get_model

from shop.payments import services
from shop.payments.models import PaymentAttempt
from tests.concurrency import support
from tests.payments.conftest import place_order
from tests.payments.support import assert_charged_once, post_pay, written
from tests.racing import race
from tests.stripe_peer import authenticate_intent, count_objects, create_card_payment_method, free_port

Order = get_model("order", "Order")
StockRecord = get_model("partner", "StockRecord")
Source = get_model("payment", "Source")
PaymentEvent = get_model("order", "PaymentEvent")
Basket = get_model("basket", "Basket")

pytestmark = pytest.mark.django_db

TOTAL = Decimal("30.00")
DECLINING_CARD = "pm_card_chargeCustomerFail"  # localstripe declines this one at charge time
THREE_DS_CARD = "4000002500003155"


def _pay_url(order):
    return reverse("checkout:pay", kwargs={"order_number": order.number})


# --- the payment page, against localstripe ------------------------------------------------------------


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
    assert written(order) == (0, 0, 0, "Pending payment")
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
    again = post_pay(client, order, payment_method="pm_card_visa")
    assert again.status_code == 409
    assert written(order) == (1, 1, 1, "Paid")
    assert count_objects(stripe_peer.url, "payment_intents") == 1


def test_a_declined_card_leaves_the_order_payable_and_another_card_pays_it(client, placed_order, stripe_peer):
    # when the fan's card is declined
    response = post_pay(client, placed_order, payment_method=DECLINING_CARD)
    # then a clear message, the order still payable, no money recorded
    assert response.status_code == 402
    assert response.json()["status"] == "declined"
    assert "declined" in response.json()["message"].lower()
    assert written(placed_order) == (0, 0, 1, "Pending payment")
    assert PaymentAttempt.objects.get(order=placed_order).status == "failed"
    # when the fan pays again with another card
    response = post_pay(client, placed_order, payment_method="pm_card_visa")
    # then a new PaymentIntent pays the order
    assert response.status_code == 200 and response.json()["status"] == "succeeded"
    assert written(placed_order) == (1, 1, 2, "Paid")
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
    answer = post_pay(client, placed_order, payment_method=payment_method).json()
    assert answer["status"] == "requires_action" and answer["client_secret"]
    assert written(placed_order) == (0, 0, 1, "Pending payment")
    # when the browser completes it and the page asks the server to check again
    authenticate_intent(stripe_peer.url, answer["intent"], client_secret=answer["client_secret"], success=True)
    response = post_pay(client, placed_order, intent=answer["intent"])
    # then the order is paid
    assert response.status_code == 200 and response.json()["status"] == "succeeded"
    assert written(placed_order) == (1, 1, 1, "Paid")


def test_failed_3d_secure_leaves_the_order_payable(client, placed_order, stripe_peer):
    payment_method = create_card_payment_method(stripe_peer.url, THREE_DS_CARD)
    answer = post_pay(client, placed_order, payment_method=payment_method).json()
    authenticate_intent(stripe_peer.url, answer["intent"], client_secret=answer["client_secret"], success=False)
    response = post_pay(client, placed_order, intent=answer["intent"])
    assert response.status_code == 402
    assert "authentication" in response.json()["message"].lower()
    assert written(placed_order) == (0, 0, 1, "Pending payment")
    # and a good card still pays it
    assert post_pay(client, placed_order, payment_method="pm_card_visa").json()["status"] == "succeeded"
    assert written(placed_order) == (1, 1, 2, "Paid")


def test_stripe_unreachable_gives_a_clear_message_and_writes_nothing(client, placed_order, stripe_peer, settings):
    # given Stripe cannot be reached (nothing listens on that port)
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"
    # when the fan pays
    response = post_pay(client, placed_order, payment_method="pm_card_visa")
    # then a clear message, and nothing written: the order stays payable
    assert response.status_code == 503
    assert "could not reach our payment provider" in response.json()["message"]
    # and no money recorded: only the attempt, kept because whether Stripe made its intent is unknown (the
    # next pay request looks it up by its idempotency key before charging anything)
    assert written(placed_order) == (0, 0, 1, "Pending payment")
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
        response = post_pay(client, placed_order, payment_method="pm_card_visa")
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
    assert written(placed_order) == (0, 0, 1, "Pending payment")
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
    assert written(placed_order) == (0, 0, 0, "Pending payment")


def test_a_post_without_card_details_is_refused(client, placed_order, stripe_peer):
    response = post_pay(client, placed_order)
    assert response.status_code == 400
    assert response.json()["message"] == "No card details were received. Please try again."
    assert written(placed_order) == (0, 0, 0, "Pending payment")


def test_card_payments_not_configured_give_a_clear_message_not_a_500(client, placed_order, stripe_peer, settings):
    # given a shop whose Stripe secret key is missing
    settings.STRIPE_SECRET_KEY = ""
    # when the fan pays
    response = post_pay(client, placed_order, payment_method="pm_card_visa")
    # then a clear 503 and nothing written
    assert response.status_code == 503
    assert response.json()["message"].startswith("Card payments are not available right now")
    assert written(placed_order) == (0, 0, 0, "Pending payment")


# --- coming back to pay, and a refused card in the fan's language -------------------------------------


def test_a_customer_leaves_the_payment_page_and_pays_from_the_account_order_page(
        client, p6_catalogue, campaign, fake_stripe, django_user_model, django_capture_on_commit_callbacks):
    # given a signed-in fan who placed an order and left the payment page (the basket is empty now)
    ana = django_user_model.objects.create_user(username="ana", email="ana@example.org", password="x-pass-12345")
    client.force_login(ana)
    order, _ = place_order(client)
    client.get(reverse("p6-home"))
    # when they come back through their account
    listing = client.get(reverse("customer:order-list")).content.decode()
    order_page = reverse("customer:order", kwargs={"order_number": order.number})
    assert order_page in listing and "Waiting for payment" in listing
    page = client.get(order_page).content.decode()
    pay = re.search(r'<a href="([^"]+)" class="btn btn-primary btn-lg" id="p6-complete-payment">', page).group(1)
    assert pay == reverse("checkout:pay", kwargs={"order_number": order.number})
    assert 'id="payment-form"' in client.get(pay).content.decode()
    # and pay with a card
    with django_capture_on_commit_callbacks(execute=True):
        answer = post_pay(client, order, payment_method="pm_card_visa")
    # then it is paid once, and the account shows it paid, with nothing left to pay
    assert (answer.status_code, answer.json()["status"]) == (200, "succeeded")
    assert_charged_once(fake_stripe, order)
    page = client.get(order_page).content.decode()
    assert "Complete payment" not in page and "not paid yet" not in page
    # and the fan got two emails: the way back to pay, then the confirmation
    assert [m.subject for m in mail.outbox] == [f"Order {order.number}: complete your payment",
                                                f"Confirmation of order {order.number}"]


def test_a_guest_leaves_the_payment_page_and_pays_from_the_email_link_in_a_new_browser(
        p6_catalogue, campaign, fake_stripe, django_capture_on_commit_callbacks):
    # given a guest who placed an order, tried a card that was refused, and closed the browser
    first_browser = Client()
    order, _ = place_order(first_browser, email="guest@example.org")
    declined = post_pay(first_browser, order, payment_method="pm_card_chargeDeclined")
    assert (declined.status_code, declined.json()["status"]) == (402, "declined")
    # when they open the order email's link in another browser
    [email] = mail.outbox
    link = re.search(r"Complete payment: http://example\.com(\S+)", email.body).group(1)
    browser = Client()
    assert browser.get(link, follow=True).status_code == 200
    # and pay with another card
    with django_capture_on_commit_callbacks(execute=True):
        answer = post_pay(browser, order, payment_method="pm_card_visa")
    # then the order is paid once: one succeeded charge (the refused one charged nothing), one sale
    assert (answer.status_code, answer.json()["status"]) == (200, "succeeded")
    assert_charged_once(fake_stripe, order)
    assert [a.status for a in PaymentAttempt.objects.filter(order=order).order_by("number")] == [
        "canceled", "succeeded"]  # the refused intent was cancelled at Stripe before the next was made
    # and the link now leads to the order's status, not to a second payment
    again = Client().get(link, follow=True)
    assert again.redirect_chain[-1][0].startswith("/accounts/order-status-form/")
    assert post_pay(browser, order, payment_method="pm_card_visa").status_code == 409
    assert_charged_once(fake_stripe, order)


@pytest.mark.parametrize("lang", ["fr", "ru"])
@pytest.mark.parametrize("card, english", [
    ("pm_card_chargeDeclined",
     "Your card was declined, so no payment was taken. Please try another card, or ask your bank."),
    ("pm_card_chargeDeclinedInsufficientFunds",
     "Your card was declined because there is not enough money on it. No payment was taken. "
     "Please try another card."),
])
def test_a_refused_card_is_told_in_the_fans_language_and_the_order_stays_payable(
        client, placed_order, fake_stripe, lang, card, english):
    response = post_pay(client, placed_order, payment_method=card, lang=lang)
    assert (response.status_code, response.json()["status"]) == (402, "declined")
    message = response.json()["message"]
    with translation.override(lang):
        assert message == gettext(english)
    assert message != english and "Your card" not in message  # ours, translated: not Stripe's English
    assert Order.objects.get(pk=placed_order.pk).status == "Pending payment"


@pytest.mark.parametrize("lang", ["fr", "ru"])
def test_a_failed_3d_secure_is_told_in_the_fans_language(client, placed_order, fake_stripe, lang):
    started = post_pay(client, placed_order, payment_method="pm_card_threeDSecure2Required", lang=lang)
    intent = started.json()["intent"]
    fake_stripe.complete_3ds(intent, success=False)
    response = post_pay(client, placed_order, intent=intent, lang=lang)
    assert response.json()["status"] == "declined"
    with translation.override(lang):
        assert response.json()["message"] == gettext(
            "Your bank's security check (authentication) did not succeed, so no payment was taken. "
            "Please try again, or use another card.")
    assert "PaymentMethod" not in response.json()["message"]


def test_a_refused_card_on_the_plain_form_and_the_api_reads_the_same(client, placed_order, fake_stripe):
    page = client.post(reverse("checkout:pay", kwargs={"order_number": placed_order.number}),
                       {"payment_method": "pm_card_chargeDeclinedInsufficientFunds"}, HTTP_ACCEPT_LANGUAGE="fr")
    assert page.status_code == 402
    with translation.override("fr"):
        expected = gettext("Your card was declined because there is not enough money on it. No payment was taken. "
                           "Please try another card.")
    assert expected.replace("'", "&#x27;") in page.content.decode()
    api = client.post(f"/api/p6/orders/{placed_order.number}/pay/", {"payment_method": "pm_card_chargeDeclined"},
                      content_type="application/json", HTTP_ACCEPT_LANGUAGE="ru")
    assert api.status_code == 402
    with translation.override("ru"):
        assert api.json()["message"] == gettext(
            "Your card was declined, so no payment was taken. Please try another card, or ask your bank.")


# --- one live PaymentIntent per order -----------------------------------------------------------------


def test_a_abandoned_3ds_then_another_card_then_the_late_3ds_cannot_charge(client, placed_order, fake_stripe,
                                                                          campaign):
    # given tab 1 asked for 3D Secure and the fan left it open
    first = post_pay(client, placed_order, payment_method="pm_card_threeDSecure2Required")
    assert first.json()["status"] == "requires_action"
    intent_1 = first.json()["intent"]
    # when tab 2 pays with another card
    second = post_pay(client, placed_order, payment_method="pm_card_visa")
    # then the first intent was cancelled at Stripe before the second was made, and the order is paid
    assert second.json()["status"] == "succeeded"
    assert [i["status"] for i in fake_stripe.objects("payment_intent")] == ["canceled", "succeeded"]
    # when the fan completes 3D Secure in tab 1 afterwards, then Stripe refuses (the intent is cancelled)
    with pytest.raises(Exception, match="canceled"):
        fake_stripe.complete_3ds(intent_1)
    late = post_pay(client, placed_order, intent=intent_1)
    assert (late.status_code, late.json()["status"]) == (200, "succeeded")  # the order is paid: tab 1 says so
    assert_charged_once(fake_stripe, placed_order)


def test_a_3ds_completed_just_before_the_other_tab_pays_is_booked_and_nothing_new_is_charged(
        client, placed_order, fake_stripe, campaign):
    # given tab 1's 3D Secure completed at Stripe, but the shop has not heard of it yet
    intent_1 = post_pay(client, placed_order, payment_method="pm_card_threeDSecure2Required").json()["intent"]
    fake_stripe.complete_3ds(intent_1)
    # when tab 2 pays with another card
    response = post_pay(client, placed_order, payment_method="pm_card_visa")
    # then the succeeded intent is booked and no second intent is made
    assert response.json()["status"] == "succeeded"
    assert len(fake_stripe.objects("payment_intent")) == 1
    assert_charged_once(fake_stripe, placed_order)


def test_b_a_lost_confirmation_answer_never_leads_to_a_second_charge(client, placed_order, fake_stripe, campaign):
    # given Stripe charged the card but its answer to the confirmation was lost
    fake_stripe.fault("POST", "/confirm$", "lose_answer")
    lost = post_pay(client, placed_order, payment_method="pm_card_visa")
    # then the fan is not told "no payment was taken"
    assert lost.status_code == 503
    assert "never be charged twice" in lost.json()["message"]
    assert "no payment was taken" not in lost.json()["message"]
    # when the fan pays again
    again = post_pay(client, placed_order, payment_method="pm_card_visa")
    # then the shop asked Stripe first, found the charge and booked it: one intent, one charge
    assert again.json()["status"] == "succeeded"
    assert len(fake_stripe.objects("payment_intent")) == 1
    assert [r["path"].rsplit("/", 1)[-1] for r in fake_stripe.requests(method="POST")] == [
        "payment_intents", "confirm"]
    assert_charged_once(fake_stripe, placed_order)


def test_b_a_lost_create_answer_is_found_by_its_key_and_cancelled_before_the_next_intent(client, placed_order,
                                                                                          fake_stripe, campaign):
    # given Stripe made the intent but the answer to the create was lost
    fake_stripe.fault("POST", "^/v1/payment_intents$", "lose_answer")
    assert post_pay(client, placed_order, payment_method="pm_card_visa").status_code == 503
    assert PaymentAttempt.objects.get(order=placed_order).intent_id is None
    # when the fan pays again
    assert post_pay(client, placed_order, payment_method="pm_card_visa").json()["status"] == "succeeded"
    # then the lost intent was found with the same key (pi:<order>:1), cancelled, and attempt 2 paid
    keys = [r["idempotency_key"] for r in fake_stripe.requests(method="POST", path="/v1/payment_intents")
            if r["path"] == "/v1/payment_intents"]
    assert keys == [f"pi:{placed_order.number}:1", f"pi:{placed_order.number}:1", f"pi:{placed_order.number}:2"]
    assert [i["status"] for i in fake_stripe.objects("payment_intent")] == ["canceled", "succeeded"]
    assert_charged_once(fake_stripe, placed_order)


def test_c_a_second_pay_request_while_one_is_in_progress_is_told_so_and_charges_nothing(client, placed_order,
                                                                                        fake_stripe):
    # given a pay request holding the order's payment lease (talking to Stripe right now)
    lease = services.PaymentAttempt.objects.create(order=placed_order, number=1, amount=TOTAL, currency="USD",
                                                   status=PaymentAttempt.PAYING)
    # when a second request arrives (page and API)
    page = post_pay(client, placed_order, payment_method="pm_card_visa")
    api = client.post(f"/api/p6/orders/{placed_order.number}/pay/", {"payment_method": "pm_card_visa"},
                      content_type="application/json")
    # then both are told a payment is in progress (409), and Stripe was not called
    assert (page.status_code, page.json()["status"]) == (409, "in_progress")
    assert (api.status_code, api.json()["status"]) == (409, "in_progress")
    assert "already in progress" in page.json()["message"]
    assert fake_stripe.requests() == []
    assert PaymentAttempt.objects.filter(order=placed_order).count() == 1
    # and a lease left by a request that died expires: the next request pays
    PaymentAttempt.objects.filter(pk=lease.pk).update(created_at=lease.created_at.replace(year=2000))
    assert post_pay(client, placed_order, payment_method="pm_card_visa").json()["status"] == "succeeded"


# --- card testing -------------------------------------------------------------------------------------


def test_five_declines_for_an_order_then_a_clear_refusal_without_asking_stripe(client, placed_order, fake_stripe,
                                                                              settings):
    settings.SHOP_PAY_FAILURES_PER_ORDER = 5
    for _ in range(5):
        assert post_pay(client, placed_order, payment_method="pm_card_chargeDeclined").status_code == 402
    requests_before = len(fake_stripe.requests())
    # when a sixth card is tried on the page and over the API
    page = post_pay(client, placed_order, payment_method="pm_card_visa")
    api = client.post(f"/api/p6/orders/{placed_order.number}/pay/", {"payment_method": "pm_card_visa"},
                      content_type="application/json")
    # then 429 with a message, and Stripe was not asked
    assert (page.status_code, page.json()["status"]) == (429, "too_many_attempts")
    assert (api.status_code, api.json()["status"]) == (429, "too_many_attempts")
    assert "try again in an hour" in page.json()["message"]
    assert len(fake_stripe.requests()) == requests_before
    assert PaymentAttempt.objects.filter(order=placed_order).count() == 5


def test_twenty_declines_from_one_address_across_orders_then_a_refusal(client, p6_catalogue, fake_stripe,
                                                                       settings):
    settings.SHOP_PAY_FAILURES_PER_ADDRESS = 20
    orders = [place_order(client, email=f"fan{n}@example.org")[0] for n in range(5)]
    client_hash = services.paying.client_hash("127.0.0.1")
    for n, order in enumerate(orders[:4]):
        for k in range(5 if n < 4 else 0):
            PaymentAttempt.objects.create(order=order, number=k + 1, intent_id=f"pi_old_{n}_{k}", amount=TOTAL,
                                          currency="USD", status=PaymentAttempt.FAILED, declined=True,
                                          client_hash=client_hash)
    # when a fifth order is paid from the same address (the test client's REMOTE_ADDR)
    response = post_pay(client, orders[4], payment_method="pm_card_visa")
    assert (response.status_code, response.json()["status"]) == (429, "too_many_attempts")
    assert fake_stripe.requests() == []
    # and from another address it goes through
    other = post_pay(client, orders[4], payment_method="pm_card_visa", remote_addr="203.0.113.9")
    assert other.json()["status"] == "succeeded"
    assert PaymentAttempt.objects.get(order=orders[4], booked=True).client_hash == \
        services.paying.client_hash("203.0.113.9")


def test_the_fans_email_reaches_stripe_for_radar(client, placed_order, fake_stripe):
    post_pay(client, placed_order, payment_method="pm_card_visa")
    [create] = [r for r in fake_stripe.requests(method="POST") if r["path"] == "/v1/payment_intents"]
    assert create["params"]["receipt_email"] == "fan@example.org"


# --- the race, with real concurrent connections -------------------------------------------------------


@support.postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_c_two_pay_requests_at_once_charge_once(fake_stripe):
    # given an order, and a Stripe that takes a second to confirm
    support.load_shop()
    order = support.pending_order()
    fake_stripe.fault("POST", "/confirm$", "hang", times=None, seconds=1)

    def pay():
        return services.answer_pay_request(order=Order.objects.get(pk=order.pk), payment_method="pm_card_visa",
                                           client_address="127.0.0.1")

    def pay_a_moment_later():
        time.sleep(0.2)
        return pay()

    # when two pay requests arrive 0.2 s apart
    first, second = race(pay, pay_a_moment_later)
    # then one pays and the other is told a payment is in progress; one charge at Stripe
    assert sorted((first.status, second.status)) == ["in_progress", "succeeded"], (first, second)
    assert_charged_once(fake_stripe, order)
