"""Staff pages of background work: the emails owed to fans (with "send again" for a failed one) and the runs of
the scheduled jobs."""

import pytest
from django.core import mail

from shop.jobs import periodic
from shop.jobs.models import JobRun, OutgoingEmail
from tests.concurrency.support import pending_order
from tests.jobs.support import SilentServer
from tests.jobs.test_outbox import use_smtp

pytestmark = pytest.mark.django_db

EMAILS = "/dashboard/payments/emails/"


def _failed_email(settings, order):
    """The placed email of `order`, failed for good against a mail server that never answers."""
    settings.SHOP_EMAIL_MAX_ATTEMPTS = 1
    email = OutgoingEmail.objects.create(key=f"placed:{order.number}", kind=OutgoingEmail.PLACED, object_pk=order.pk)
    from shop.jobs import outbox

    with SilentServer() as hanging:
        use_smtp(settings, hanging.port)
        assert outbox.deliver(pk=email.pk).status == OutgoingEmail.FAILED
    return email


def test_staff_see_a_failed_email_and_send_it_again_once(settings, staff_client, p6_catalogue):
    # given a placed email that failed for good while the mail server hung
    order = pending_order()
    email = _failed_email(settings, order)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    # when staff list the failed emails
    page = staff_client.get(EMAILS + "?status=failed").content.decode()

    # then it is there with its error and a "Send again" button
    assert f"placed:{order.number}" in page and "SMTPServerDisconnected" in page
    assert "failed (1)" in page and "sent (0)" in page and "Send again" in page

    # when staff send it again, twice (a second click), with the mail server back
    first = staff_client.post(f"{EMAILS}{email.pk}/send-again/", follow=True).content.decode()
    second = staff_client.post(f"{EMAILS}{email.pk}/send-again/", follow=True).content.decode()

    # then it is sent once, and the second click is refused with the reason
    assert f"Email placed:{order.number} is now sent." in first
    assert f"Email placed:{order.number} is sent: only a failed email can be sent again." in second
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [order.guest_email]
    email.refresh_from_db()
    assert (email.status, email.attempts) == (OutgoingEmail.SENT, 2)


def test_staff_see_the_latest_run_of_each_job_and_every_run(settings, staff_client):
    # given two runs of the checkpoint job and one of the sweep
    periodic.checkpoint_ledger()
    periodic.checkpoint_ledger()
    periodic.sweep()

    # when staff open the jobs page, then the latest run of each job and all three runs are listed
    page = staff_client.get("/dashboard/payments/jobs/").content.decode()
    assert JobRun.objects.count() == 3
    latest = page.split('id="latest-runs"')[1].split("</table>")[0]
    assert latest.count("<tr>") == 3  # the header and one row per job
    assert "checkpoint_ledger" in latest and "sweep" in latest
    assert "re-enqueued 0 webhook event(s), 0 email(s)" in latest
    runs = page.split('id="job-runs"')[1].split("</table>")[0]
    assert runs.count("<td>checkpoint_ledger</td>") == 2 and runs.count("<td>sweep</td>") == 1


def test_the_background_pages_are_for_staff_only(client, django_user_model):
    fan = django_user_model.objects.create_user(username="fan", email="fan@example.org", password="pw-123456789")
    client.force_login(fan)
    assert client.get(EMAILS).status_code == 403
    assert client.get("/dashboard/payments/jobs/").status_code == 403
    assert client.post(f"{EMAILS}1/send-again/").status_code == 403
