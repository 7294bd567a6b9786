"""The periodic jobs (shop/jobs/periodic.py, locks.py, tasks.py; DESIGN "Background work, and more than one
machine"): celery beat schedules exactly five jobs, each a task the worker knows; each job runs once at a time
across machines (a database lease: a second run is skipped, a lease its holder left to expire is taken over),
each run is recorded (JobRun), and a run that raises is recorded as an error and frees the lease.
cancel_unpaid_orders takes its age from SHOP_CANCEL_UNPAID_AFTER_MINUTES; verify_ledger keeps its check for the
fundraising overview and emails SHOP_ALERT_EMAIL once about a broken ledger; the sweep sends again what a lost
message left behind, and leaves work in flight alone. The two-thread race runs on PostgreSQL only."""

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone
from django.utils.html import escape
from oscar.core.loading import get_model

from fundraising import services as fundraising
from fundraising.models import LedgerVerification
from shop.jobs import periodic, tasks
from shop.jobs.models import JobLock, JobRun, OutgoingEmail
from shop.payments.models import PaymentAttempt, StripeEvent
from tests.concurrency.support import pending_order
from tests.fundraising import support as ledger
from tests.jobs.support import queued_tasks
from tests.markers import postgres_only
from tests.stripe_peer import free_port

Order = get_model("order", "Order")
Source = get_model("payment", "Source")

pytestmark = pytest.mark.django_db

ALERT_TO = "ledger-alerts@p6.example.org"
OVERVIEW = "/dashboard/fundraising/"


def runs():
    return list(JobRun.objects.order_by("pk").values_list("name", "outcome", "summary"))


def lease_of(name):
    return JobLock.objects.filter(name=name).values_list("holder", "locked_until").get()


# --- the schedule ------------------------------------------------------------------------------------


def test_beat_schedules_exactly_the_six_jobs_each_a_task_the_worker_knows():
    from shop.celery import app

    app.loader.import_default_modules()
    schedule = app.conf.beat_schedule

    assert len(schedule) == 6
    assert {entry["task"]: entry["schedule"] for entry in schedule.values()} == {
        "shop.jobs.tasks.reconcile_payments": 300.0,
        "shop.jobs.tasks.cancel_unpaid_orders": 900.0,
        "shop.jobs.tasks.checkpoint_ledger": 3600.0,
        "shop.jobs.tasks.record_ledger_head": 3600.0,
        "shop.jobs.tasks.verify_ledger": 86400.0,
        "shop.jobs.tasks.sweep": 60.0,
    }
    assert [entry["task"] for entry in schedule.values() if entry["task"] not in app.tasks] == []


# --- one run at a time, recorded ------------------------------------------------------------------------


def test_a_job_whose_lease_another_machine_holds_is_skipped_and_an_expired_lease_is_taken_over():
    # given another machine's sweep holds the lease for another minute
    other = "node-b:4242:0a1b2c3d"
    until = timezone.now() + timedelta(minutes=1)
    JobLock.objects.create(name="sweep", holder=other, locked_until=until)

    # when the sweep's task runs here, then it is skipped: no run recorded, the other's lease untouched
    assert tasks.sweep() == "skipped"
    assert periodic.sweep() == periodic.SKIPPED
    assert runs() == []
    assert lease_of("sweep") == (other, until)

    # when that lease has expired (its holder died mid-run)
    JobLock.objects.filter(name="sweep").update(locked_until=timezone.now() - timedelta(seconds=1))
    run = periodic.sweep()

    # then this run takes it over, runs once, is recorded and frees the lease
    assert (run.name, run.outcome, run.summary) == ("sweep", JobRun.OK, "re-enqueued 0 webhook event(s), 0 email(s)")
    assert run.holder != other and run.finished_at is not None
    assert runs() == [("sweep", JobRun.OK, "re-enqueued 0 webhook event(s), 0 email(s)")]
    assert lease_of("sweep") == ("", None)
    assert JobLock.objects.count() == 1


def test_a_run_that_raises_is_recorded_as_an_error_and_frees_the_lease():
    seen = []

    def body():
        seen.append(lease_of("checkpoint_ledger"))
        raise RuntimeError("the ledger's database went away")

    # when a run raises
    before = timezone.now()
    run = periodic.run("checkpoint_ledger", body, lease_seconds=3600)
    after = timezone.now()

    # then it held the lease while it ran, and is recorded as an error with the exception
    [(holder, until)] = seen
    assert holder == run.holder
    assert before + timedelta(seconds=3600) <= until <= after + timedelta(seconds=3600)
    assert (run.outcome, run.summary) == (JobRun.ERROR, "RuntimeError: the ledger's database went away")
    assert run.finished_at is not None
    # and the lease is free: the next run is not skipped
    assert lease_of("checkpoint_ledger") == ("", None)
    assert periodic.checkpoint_ledger().outcome == JobRun.OK
    assert runs() == [("checkpoint_ledger", JobRun.ERROR, "RuntimeError: the ledger's database went away"),
                      ("checkpoint_ledger", JobRun.OK, "ledger is empty: nothing to do\n")]


@pytest.fixture
def stripe_unreachable(settings):
    """The shop configured for a Stripe that cannot be reached (nothing listens on its port)."""
    settings.STRIPE_SECRET_KEY = "sk_test_unreachable"
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    settings.STRIPE_TIMEOUT = 2


def test_each_run_is_recorded_with_the_commands_report_and_problems_when_it_fails(stripe_unreachable, p6_catalogue):
    # given an order whose fan left the payment page (an open attempt), and Stripe unreachable
    order = pending_order()
    PaymentAttempt.objects.create(order=order, number=1, intent_id="pi_left_open", amount=order.total_incl_tax,
                                  currency=order.currency)

    # when the jobs run through their tasks
    assert tasks.checkpoint_ledger() == "ok: ledger is empty: nothing to do\n"
    reconciled = tasks.reconcile_payments()

    # then each run is recorded; the reconciliation that could not ask Stripe reports problems, and wrote nothing
    assert reconciled.startswith(f"problems: order {order.number}: Stripe could not be asked")
    [checkpoint, reconcile] = JobRun.objects.order_by("pk")
    assert (checkpoint.name, checkpoint.outcome, checkpoint.summary) == (
        "checkpoint_ledger", JobRun.OK, "ledger is empty: nothing to do\n")
    assert (reconcile.name, reconcile.outcome) == ("reconcile_payments", JobRun.PROBLEMS)
    lines = reconcile.summary.splitlines()
    assert lines[0].startswith(f"order {order.number}: Stripe could not be asked")
    assert lines[1:] == ["reconciled: captured 0, cancelled 0, repaired 0, unchanged 0, errors 1",
                         "1 orders could not be reconciled; run again later"]
    assert Order.objects.get(pk=order.pk).status == "Pending payment"
    assert PaymentAttempt.objects.get(order=order).status == PaymentAttempt.CREATED
    assert Source.objects.count() == 0
    assert JobLock.objects.filter(holder="").count() == JobLock.objects.count() == 2


@postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_of_one_job_at_once_one_runs_and_the_other_is_skipped():
    first_running, second_returned = threading.Event(), threading.Event()
    results = {}

    def first_body():
        first_running.set()
        if not second_returned.wait(timeout=60):
            raise RuntimeError("the second run never returned")
        return JobRun.OK, "the first run"

    def second_body():
        return JobRun.OK, "the second run"  # must never run

    def first():
        try:
            results["first"] = periodic.run("reconcile_payments", first_body, lease_seconds=600)
        except Exception as exc:  # noqa: BLE001 — reported to the test
            results["first"] = exc
        finally:
            connection.close()

    def second():
        try:
            if first_running.wait(timeout=60):
                results["second"] = periodic.run("reconcile_payments", second_body, lease_seconds=600)
        except Exception as exc:  # noqa: BLE001
            results["second"] = exc
        finally:
            second_returned.set()
            connection.close()

    # when two machines start the job at once (the second while the first is in its body)
    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)

    # then one ran and one was skipped; one run recorded, and the lease is free again
    assert results["second"] == periodic.SKIPPED
    assert (results["first"].outcome, results["first"].summary) == (JobRun.OK, "the first run")
    assert runs() == [("reconcile_payments", JobRun.OK, "the first run")]
    assert lease_of("reconcile_payments") == ("", None)


# --- cancel_unpaid_orders -------------------------------------------------------------------------------


def test_cancel_unpaid_orders_cancels_the_orders_older_than_the_setting(settings, stripe_unreachable, p6_catalogue):
    # given unpaid orders placed 50 and 40 minutes ago (never sent to Stripe: it need not be asked), and a
    # 45-minute setting
    settings.SHOP_CANCEL_UNPAID_AFTER_MINUTES = 45
    old, recent = pending_order(n=1), pending_order(n=2)
    Order.objects.filter(pk=old.pk).update(date_placed=timezone.now() - timedelta(minutes=50))
    Order.objects.filter(pk=recent.pk).update(date_placed=timezone.now() - timedelta(minutes=40))

    # when the job runs
    run = periodic.cancel_unpaid_orders()

    # then only the older one is cancelled, and the run says so
    assert (run.outcome, run.summary.splitlines()) == (
        JobRun.OK, [f"order {old.number}: cancelled", "unpaid orders: cancelled 1, captured 0, skipped 0"])
    assert dict(Order.objects.values_list("number", "status")) == {str(old.number): "Cancelled",
                                                                    str(recent.number): "Pending payment"}


# --- verify_ledger --------------------------------------------------------------------------------------


@pytest.fixture
def shirt(db):
    beneficiaries = ledger.make_beneficiaries(3)
    fundraising.set_share_rule(share_bps=5000, weights=[(b, 1) for b in beneficiaries],
                               valid_from=timezone.now() - timedelta(days=1))
    return ledger.make_stockrecord("25.00", cost="10.00")


@pytest.fixture
def paid_order(shirt):
    order = ledger.place_order((shirt, 2))
    ledger.pay(order)
    return order


def test_verify_ledger_on_a_clean_ledger_records_a_clean_check_and_emails_nobody(settings, staff_client, paid_order):
    settings.SHOP_ALERT_EMAIL = ALERT_TO

    run = periodic.verify_ledger()

    assert (run.outcome, run.summary) == (JobRun.OK, "ledger OK: 1 transactions")
    check = LedgerVerification.objects.get()
    assert (check.transactions, check.violation_count, check.violations, check.clean) == (1, 0, "", True)
    assert mail.outbox == []
    page = staff_client.get(OVERVIEW).content.decode()
    assert 'id="ledger-verification"' in page and "alert-danger" not in page
    assert "1 transactions, no violations." in page


def _marked_paid_without_a_sale(shirt):
    """Two orders a shortcut marked paid: no sale was posted, no payment booked (tests/fundraising/test_commands)."""
    orders = [ledger.place_order((shirt, 1)), ledger.place_order((shirt, 1))]
    Order.objects.filter(pk__in=[o.pk for o in orders]).update(status="Paid")
    first, other = orders
    return [
        f"sale: paid order {first.number} (status 'Paid') has no sale transaction",
        f"sale: paid order {other.number} (status 'Paid') has no sale transaction",
        f"status: order {first.number} is 'Paid' but no payment was booked for it",
        f"status: order {other.number} is 'Paid' but no payment was booked for it",
    ]


def test_verify_ledger_with_violations_records_them_emails_staff_once_and_the_overview_shows_them(
        settings, staff_client, paid_order, shirt):
    # given a ledger with four violations
    settings.SHOP_ALERT_EMAIL = ALERT_TO
    violations = _marked_paid_without_a_sale(shirt)

    # when the daily check runs
    run = periodic.verify_ledger()

    # then the check is kept with its count and lines, the run reports problems
    check = LedgerVerification.objects.get()
    assert (check.transactions, check.violation_count, check.violations.splitlines()) == (1, 4, violations)
    assert (run.outcome, run.summary.splitlines()) == (JobRun.PROBLEMS, ["4 violation(s)", *violations])
    # and staff are emailed once, at SHOP_ALERT_EMAIL, with every line
    [alert] = mail.outbox
    assert (alert.to, alert.subject) == ([ALERT_TO], "P6 ledger check: 4 violation(s)")
    assert all(line in alert.body.splitlines() for line in violations)
    # and the fundraising overview shows the alert with the lines
    page = staff_client.get(OVERVIEW).content.decode()
    start = page.index('id="ledger-verification"')
    alert_html = page[page.rindex("<div", 0, start):page.index("</div>", start)]
    assert "alert-danger" in alert_html and "found 4 violations." in alert_html
    assert all(escape(line) in alert_html for line in violations)


def test_verify_ledger_reports_an_entry_changed_behind_the_ledgers_back(settings, paid_order):
    # given someone drops the append-only trigger and edits a posted entry (raw SQL, as
    # tests/fundraising/test_append_only.py; in a savepoint rolled back below)
    settings.SHOP_ALERT_EMAIL = ALERT_TO
    with transaction.atomic():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("DROP TRIGGER fundraising_entry_append_only ON fundraising_entry")
            else:
                cursor.execute("DROP TRIGGER fundraising_entry_no_update")
            cursor.execute("UPDATE fundraising_entry SET credit = credit + 1 WHERE id = "
                           "(SELECT MIN(id) FROM fundraising_entry WHERE credit > 0)")

        # when the daily check runs
        run = periodic.verify_ledger()
        check = LedgerVerification.objects.get()
        transaction.set_rollback(True)

    # then it found every broken invariant, reported them and emailed staff once
    lines = check.violations.splitlines()
    assert check.violation_count == len(lines) >= 3
    assert any("trigger fundraising_entry" in v and "missing" in v for v in lines)
    assert any("does not balance" in v for v in lines)
    assert any("changed after posting" in v for v in lines)
    assert (run.outcome, run.summary.splitlines()) == (JobRun.PROBLEMS, [f"{len(lines)} violation(s)", *lines])
    [alert] = mail.outbox
    assert (alert.to, alert.subject) == ([ALERT_TO], f"P6 ledger check: {len(lines)} violation(s)")


def test_verify_ledger_without_an_alert_address_records_the_violations_and_emails_nobody(
        settings, paid_order, shirt, caplog):
    settings.SHOP_ALERT_EMAIL = ""
    violations = _marked_paid_without_a_sale(shirt)

    run = periodic.verify_ledger()

    assert run.outcome == JobRun.PROBLEMS
    assert LedgerVerification.objects.get().violation_count == len(violations) == 4
    assert mail.outbox == []
    assert "P6 ledger check: 4 violation(s) (SHOP_ALERT_EMAIL is not set: nobody emailed)" in caplog.messages


# --- the sweep ------------------------------------------------------------------------------------------


def _event(event_id, outcome, *, received_ago=0, next_attempt_ago=None):
    row = StripeEvent.objects.create(event_id=event_id, type="payment_intent.succeeded", outcome=outcome,
                                     payload={"id": event_id, "data": {"object": {"object": "payment_intent"}}})
    now = timezone.now()
    StripeEvent.objects.filter(pk=row.pk).update(
        received_at=now - timedelta(seconds=received_ago),
        next_attempt_at=None if next_attempt_ago is None else now - timedelta(seconds=next_attempt_ago))
    return row.pk


def _email(key, status, *, created_ago=0, next_attempt_ago=None):
    row = OutgoingEmail.objects.create(key=key, kind=OutgoingEmail.PAID, object_pk=1, status=status)
    now = timezone.now()
    OutgoingEmail.objects.filter(pk=row.pk).update(
        created_at=now - timedelta(seconds=created_ago),
        next_attempt_at=None if next_attempt_ago is None else now - timedelta(seconds=next_attempt_ago))
    return row.pk


def test_the_sweep_sends_again_what_a_lost_message_left_behind_and_leaves_work_in_flight_alone(settings, broker):
    settings.SHOP_SWEEP_AFTER_SECONDS = 180
    long_ago = 600
    # given work whose message was lost (older than the setting)
    lost_event = _event("evt_lost", StripeEvent.RECEIVED, received_ago=long_ago)
    overdue_event = _event("evt_overdue", StripeEvent.FAILED, received_ago=long_ago, next_attempt_ago=long_ago)
    lost_email = _email("paid:1001", OutgoingEmail.PENDING, created_ago=long_ago)
    overdue_email = _email("paid:1002", OutgoingEmail.PENDING, created_ago=long_ago, next_attempt_ago=long_ago)
    # and work in flight (recent, or a retry just due), or done, or given up
    _event("evt_recent", StripeEvent.RECEIVED, received_ago=10)
    _event("evt_retry_due", StripeEvent.FAILED, received_ago=long_ago, next_attempt_ago=10)
    _event("evt_done", StripeEvent.PROCESSED, received_ago=long_ago)
    _email("paid:1003", OutgoingEmail.PENDING, created_ago=10)
    _email("paid:1004", OutgoingEmail.PENDING, created_ago=long_ago, next_attempt_ago=10)
    _email("paid:1005", OutgoingEmail.SENT, created_ago=long_ago)
    _email("paid:1006", OutgoingEmail.FAILED, created_ago=long_ago)
    events_before = list(StripeEvent.objects.order_by("pk").values())
    emails_before = list(OutgoingEmail.objects.order_by("pk").values())

    # when the sweep runs
    run = periodic.sweep()

    # then exactly the four left behind wait in Redis, each once, and no row changed
    assert (run.outcome, run.summary) == (JobRun.OK, "re-enqueued 2 webhook event(s), 2 email(s)")
    assert broker.queued() == 4
    assert queued_tasks(broker) == sorted([
        ("shop.payments.tasks.process_webhook_event", (lost_event,)),
        ("shop.payments.tasks.process_webhook_event", (overdue_event,)),
        ("shop.jobs.tasks.deliver_email", (lost_email,)),
        ("shop.jobs.tasks.deliver_email", (overdue_email,)),
    ])
    assert list(StripeEvent.objects.order_by("pk").values()) == events_before
    assert list(OutgoingEmail.objects.order_by("pk").values()) == emails_before
    assert mail.outbox == []


def test_the_sweep_with_nothing_left_behind_sends_nothing(settings, broker):
    settings.SHOP_SWEEP_AFTER_SECONDS = 180
    _event("evt_recent", StripeEvent.RECEIVED, received_ago=10)
    _email("paid:1003", OutgoingEmail.PENDING, created_ago=10)

    run = periodic.sweep()

    assert (run.outcome, run.summary) == (JobRun.OK, "re-enqueued 0 webhook event(s), 0 email(s)")
    assert broker.queued() == 0
