"""Enqueueing background work (shop/jobs/queue.py): sent once the transaction commits, never for one rolled back;
run inline without a broker, where a failure is logged and never raised into the committed request; a broker
that refuses connections, or accepts them and never answers, fails the enqueue quietly and in bounded time (the
work is recorded in the database, and the sweep sends it later); and the backoff of retries."""

import threading

import pytest
from django.db import connection, transaction

from shop.jobs import queue, tasks
from shop.jobs.models import JobRun
from tests.background import use_broker
from tests.jobs.support import SilentServer, queued_tasks
from tests.stripe_peer import free_port

pytestmark = pytest.mark.django_db


def test_the_backoff_doubles_from_the_base_up_to_the_cap():
    assert [queue.backoff_seconds(n, base=30, cap=3600) for n in range(1, 10)] == [
        30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_work_is_sent_once_the_transaction_commits_and_never_for_one_rolled_back(
        broker, django_capture_on_commit_callbacks):
    # when work is enqueued in a transaction, then nothing is sent before the commit, one message after it
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            queue.enqueue(tasks.deliver_email, 41)
            assert broker.queued() == 0
    assert queued_tasks(broker) == [("shop.jobs.tasks.deliver_email", (41,))]

    # when the transaction that enqueued rolls back, then nothing more is sent
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            queue.enqueue(tasks.deliver_email, 42)
            transaction.set_rollback(True)
    assert callbacks == []
    assert queued_tasks(broker) == [("shop.jobs.tasks.deliver_email", (41,))]


def test_without_a_broker_work_runs_inline_and_a_failure_is_logged_not_raised(settings, caplog):
    settings.CELERY_BROKER_URL = ""

    # when a job is sent, then it has run here
    assert queue.send(tasks.checkpoint_ledger) is False
    assert list(JobRun.objects.values_list("name", "outcome")) == [("checkpoint_ledger", JobRun.OK)]

    # when work that fails is sent (an email row that does not exist), then it is logged, not raised
    assert queue.send(tasks.deliver_email, 999_999) is False
    assert "shop.jobs.tasks.deliver_email(999999,) failed inline; the sweep will try again" in caplog.messages


def _send_in_a_thread(task, *args):
    """queue.send in a thread, so a send that hangs fails the test instead of stalling it."""
    results = []

    def send():
        try:
            results.append(queue.send(task, *args))
        finally:
            connection.close()

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "enqueueing hung on the broker"
    return results


def test_a_broker_that_refuses_connections_fails_the_enqueue_quietly(broker, caplog):
    use_broker(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there

    assert _send_in_a_thread(tasks.deliver_email, 7) == [False]
    assert "shop.jobs.tasks.deliver_email(7,) could not be enqueued; the sweep will send it" in caplog.messages


def test_a_broker_that_accepts_and_never_answers_fails_the_enqueue_in_bounded_time(broker, caplog):
    with SilentServer() as hung:
        use_broker(f"redis://127.0.0.1:{hung.port}/0")

        assert _send_in_a_thread(tasks.deliver_email, 7) == [False]

    assert "shop.jobs.tasks.deliver_email(7,) could not be enqueued; the sweep will send it" in caplog.messages
