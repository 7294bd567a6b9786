"""The emails the shop owes its fans (shop/jobs/outbox.py; DESIGN "Background work"): owed once per key in the
transaction that owes them, sent after the commit (inline without a broker; one message in Redis with one),
against real SMTP servers on 127.0.0.1: one that hangs is given up after EMAIL_TIMEOUT and retried later with
backoff, then failed for good after SHOP_EMAIL_MAX_ATTEMPTS; a working one gets the email exactly once. And the
three kinds end to end: a checkout owes placed:<number>, a capture paid:<number>, a refund refund:<refund id>."""

import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from shop.checkout.emails import owe_pending_order_email
from shop.jobs import outbox
from shop.jobs.models import OutgoingEmail
from shop.payments import services
from shop.payments.models import StripeRefund
from tests.background import wait_for
from tests.concurrency.support import pending_order
from tests.jobs.support import SilentServer, SMTPServer, queued_tasks
from tests.payments.conftest import place_order

pytestmark = pytest.mark.django_db


def rows():
    return list(OutgoingEmail.objects.order_by("pk").values_list("key", "kind", "object_pk", "status", "attempts"))


@pytest.fixture
def order(p6_catalogue):
    """An order placed and waiting for payment, whose placed email is not owed yet."""
    return pending_order()


def use_smtp(settings, port):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 1


# --- owed once, sent after the commit ---------------------------------------------------------------------


def test_an_email_owed_twice_is_recorded_once_and_sent_once_after_the_commit(
        order, django_capture_on_commit_callbacks):
    # when the placed email is owed twice in one transaction (no broker: it is sent inline)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = owe_pending_order_email(order=order)
        second = owe_pending_order_email(order=order)
        # then nothing is sent before the commit
        assert mail.outbox == []
        assert rows() == [(f"placed:{order.number}", "placed", order.pk, "pending", 0)]

    # then one row, one delivery after the commit, and the row is marked sent
    assert first.pk == second.pk and len(callbacks) == 1
    assert rows() == [(f"placed:{order.number}", "placed", order.pk, "sent", 1)]
    [message] = mail.outbox
    assert (message.to, message.subject) == ([order.email], f"Order {order.number}: complete your payment")
    sent = OutgoingEmail.objects.get()
    assert sent.sent_at is not None and sent.next_attempt_at is None and sent.error == ""

    # when it is owed again later (a replayed payment), and delivered again (a redelivered message)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        owe_pending_order_email(order=order)
    outbox.deliver(pk=sent.pk)

    # then nothing is enqueued or sent a second time
    assert callbacks == []
    assert len(mail.outbox) == 1
    assert rows() == [(f"placed:{order.number}", "placed", order.pk, "sent", 1)]


def test_an_email_owed_in_a_transaction_that_rolls_back_is_neither_recorded_nor_sent(
        order, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            owe_pending_order_email(order=order)
            transaction.set_rollback(True)

    assert callbacks == []
    assert rows() == []
    assert mail.outbox == []


def test_with_a_broker_owing_puts_one_message_in_redis_and_sends_nothing_yet(
        order, broker, django_capture_on_commit_callbacks):
    # when the email is owed twice, with a broker
    with django_capture_on_commit_callbacks(execute=True):
        email = owe_pending_order_email(order=order)
        owe_pending_order_email(order=order)

    # then exactly one message waits in Redis for a worker, and nothing is sent yet
    assert broker.queued() == 1
    assert queued_tasks(broker) == [("shop.jobs.tasks.deliver_email", (email.pk,))]
    assert mail.outbox == []
    assert rows() == [(f"placed:{order.number}", "placed", order.pk, "pending", 0)]

    # when the worker delivers it, then it is sent once
    outbox.deliver(pk=email.pk)
    assert len(mail.outbox) == 1
    assert rows() == [(f"placed:{order.number}", "placed", order.pk, "sent", 1)]


# --- against real SMTP servers ----------------------------------------------------------------------------


def _owed(order):
    return OutgoingEmail.objects.create(key=f"placed:{order.number}", kind=OutgoingEmail.PLACED, object_pk=order.pk)


def test_a_hanging_smtp_server_is_retried_later_and_a_working_one_gets_the_email_exactly_once(settings, order):
    settings.SHOP_EMAIL_RETRY_SECONDS = 30
    settings.SHOP_EMAIL_MAX_ATTEMPTS = 5
    email = _owed(order)

    # when it is delivered while the SMTP server accepts and never answers
    with SilentServer() as hanging:
        use_smtp(settings, hanging.port)
        before = timezone.now()
        with pytest.raises(outbox.RetryLater) as later:
            outbox.deliver(pk=email.pk)
        after = timezone.now()
        assert wait_for(lambda: hanging.connections, what="the connection", timeout=30) == 1

    # then it gave up after EMAIL_TIMEOUT, kept the error, and is retried after the backoff
    assert later.value.seconds == 30
    email.refresh_from_db()
    assert (email.status, email.attempts, email.sent_at) == (OutgoingEmail.PENDING, 1, None)
    assert email.error == "SMTPServerDisconnected: Connection unexpectedly closed: timed out"
    assert before + timedelta(seconds=30) <= email.next_attempt_at <= after + timedelta(seconds=30)

    # when it is delivered again against a working SMTP server, twice (a redelivered message)
    with SMTPServer() as smtp:
        use_smtp(settings, smtp.port)
        outbox.deliver(pk=email.pk)
        outbox.deliver(pk=email.pk)
        messages = list(smtp.messages)

    # then the server got it exactly once, and the row is sent
    [(sender, recipients, message)] = messages
    assert (sender, recipients) == (settings.DEFAULT_FROM_EMAIL, [order.email])
    assert message["Subject"] == f"Order {order.number}: complete your payment"
    email.refresh_from_db()
    assert (email.status, email.attempts, email.next_attempt_at) == (OutgoingEmail.SENT, 2, None)
    assert email.sent_at is not None


def test_after_the_last_attempt_the_email_is_failed_and_never_tried_again(settings, order):
    settings.SHOP_EMAIL_RETRY_SECONDS = 30
    settings.SHOP_EMAIL_MAX_ATTEMPTS = 3
    email = _owed(order)

    with SilentServer() as hanging:
        use_smtp(settings, hanging.port)
        # when the first attempts fail, then each is retried later with a longer wait
        waits = []
        for _ in range(2):
            with pytest.raises(outbox.RetryLater) as later:
                outbox.deliver(pk=email.pk)
            waits.append(later.value.seconds)
        assert waits == [30, 60]
        # when the last attempt fails, then it is failed for good: no retry, no next attempt
        failed = outbox.deliver(pk=email.pk)
        assert (failed.status, failed.attempts, failed.next_attempt_at) == (OutgoingEmail.FAILED, 3, None)
        assert failed.error == "SMTPServerDisconnected: Connection unexpectedly closed: timed out"
        assert wait_for(lambda: hanging.connections == 3, what="three connections", timeout=30)
        assert hanging.connections == 3

    # and a late message, or the sweep, does not try it again, even once the server works
    with SMTPServer() as smtp:
        use_smtp(settings, smtp.port)
        assert outbox.deliver(pk=email.pk).status == OutgoingEmail.FAILED
        assert smtp.messages == []
    assert list(outbox.left_behind(older_than=0)) == []
    email.refresh_from_db()
    assert (email.status, email.attempts, email.sent_at) == (OutgoingEmail.FAILED, 3, None)


# --- the three kinds, owed by the real flows --------------------------------------------------------------


@pytest.fixture
def fan():
    return Client()


@pytest.fixture
def placed(fan, p6_catalogue, stripe_peer):
    """A guest fan's order placed through the checkout (its order-placed email sent after the commit)."""
    order, _ = place_order(fan)
    return order


def test_an_order_placed_through_the_checkout_owes_its_placed_email(placed):
    assert rows() == [(f"placed:{placed.number}", "placed", placed.pk, "sent", 1)]
    assert [(m.to, m.subject) for m in mail.outbox] == [
        (["fan@example.org"], f"Order {placed.number}: complete your payment")]


def test_a_capture_owes_the_paid_email(placed, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert services.pay_order(order=placed, payment_method="pm_card_visa").status == "succeeded"

    assert rows() == [(f"placed:{placed.number}", "placed", placed.pk, "sent", 1),
                      (f"paid:{placed.number}", "paid", placed.pk, "sent", 1)]
    assert mail.outbox[-1].subject == f"Confirmation of order {placed.number}"
    assert len(mail.outbox) == 2


def test_a_refund_recorded_succeeded_owes_the_refund_email(placed, staff_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.pay_order(order=placed, payment_method="pm_card_visa")
    url = reverse("payments-dashboard:order-refund", kwargs={"number": placed.number})
    form = {"scope": "whole", "request_id": uuid.uuid4().hex, "reason": "", "amount": "", "confirm": "1"}

    # when staff refund the whole order (localstripe answers succeeded), twice (a double click)
    with django_capture_on_commit_callbacks(execute=True):
        assert staff_client.post(url, form).status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        assert staff_client.post(url, form).status_code == 302

    # then the refund email is owed once, under the Stripe refund's id, and sent once
    refund = StripeRefund.objects.get()
    assert refund.status == StripeRefund.SUCCEEDED
    assert rows()[2:] == [(f"refund:{refund.refund_id}", "refund", refund.pk, "sent", 1)]
    assert [m.subject for m in mail.outbox].count(f"Your refund for order {placed.number}") == 1
    assert len(mail.outbox) == 3
