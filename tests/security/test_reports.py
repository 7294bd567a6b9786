"""Content-Security-Policy violation reports (shop/security/reports.py, issue 18 item 2): both formats browsers send
are stored without personal data (page as path, URLs as origin + path, no address); repeats count on one row;
the endpoint is bounded (413 past the body limit, 429 past the per-address rate, 400 for anything not a report,
405 for anything but POST) and a rejected request writes nothing; past SECURITY_CSP_MAX_DISTINCT rows new violations
are only counted on the overflow row. A payment-page violation emails SHOP_ALERT_EMAIL once an hour per row; staff
see the rows and the payment-page banner, nobody else does."""

import io
import json
from datetime import timedelta

import pytest
from django.core import mail
from django.template import Context, Template
from django.utils import timezone

from shop.security import reports
from shop.security.models import CspViolation
from tests.markers import postgres_only
from tests.racing import race

pytestmark = pytest.mark.django_db

URL = "/security/csp-report/"
PAGE = "/dashboard/security/csp-violations/"
ALERT_TO = "security-alerts@p6.example.org"
EMAIL_IN_QUERY = "fan%40example.org"
FIELDS = ("page", "directive", "blocked_url", "disposition", "source_file", "line_number", "count")


def legacy(document="https://shop.example/basket/", directive="script-src-elem", blocked="inline", **extra):
    """A report-uri body (application/csp-report)."""
    return {"csp-report": {"document-uri": document, "referrer": f"https://mail.example/?to={EMAIL_IN_QUERY}",
                           "violated-directive": "script-src-elem 'self'", "effective-directive": directive,
                           "original-policy": "default-src 'self'; report-uri /security/csp-report/",
                           "disposition": "enforce", "blocked-uri": blocked, "status-code": 200, **extra}}


def reporting(document="https://shop.example/basket/", directive="img-src", blocked="https://cdn.example/x.png",
              **extra):
    """One report-to entry (application/reports+json)."""
    return {"type": "csp-violation", "age": 10, "url": document, "user_agent": "Mozilla/5.0 (X11) Firefox/140.0",
            "body": {"documentURL": document, "referrer": "", "effectiveDirective": directive,
                     "originalPolicy": "default-src 'self'", "blockedURL": blocked, "disposition": "report",
                     "statusCode": 200, "sample": "", **extra}}


def post(client, body, content_type="application/csp-report", **headers):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.generic("POST", URL, raw, content_type=content_type, **headers)


def rows():
    return list(CspViolation.objects.order_by("pk").values_list(*FIELDS))


def every_stored_text():
    return " ".join(str(value) for row in CspViolation.objects.values_list() for value in row)


# --- both formats, stripped ----------------------------------------------------------------------------------


def test_a_report_uri_report_is_stored_as_path_origin_and_path_without_query_or_personal_data(client):
    # given a report-uri report whose page and script carry an email in the query, and a user in the source URL
    body = legacy(document=f"https://shop.example/checkout/thank-you/?email={EMAIL_IN_QUERY}#top",
                  directive="script-src-elem", blocked=f"https://evil.example:8443/skim.js?c={EMAIL_IN_QUERY}#x",
                  **{"source-file": f"https://fan:secret@shop.example/static/app.js?u={EMAIL_IN_QUERY}",
                     "line-number": 42, "column-number": 7})

    # when the browser posts it (with its cookies and user agent)
    answer = post(client, body, HTTP_USER_AGENT="Mozilla/5.0 FanBrowser", HTTP_COOKIE="sessionid=fan-session",
                  REMOTE_ADDR="203.0.113.9")

    # then 204, and one row: path only, origin + path only, no query, user, address, agent or cookie anywhere
    assert answer.status_code == 204 and answer.content == b""
    assert rows() == [("/checkout/thank-you/", "script-src-elem", "https://evil.example:8443/skim.js", "enforce",
                       "https://shop.example/static/app.js", 42, 1)]
    stored = every_stored_text()
    for personal in ("fan%40example.org", "fan@example.org", "email", "secret", "fan:", "203.0.113.9",
                     "FanBrowser", "fan-session", "mail.example"):
        assert personal not in stored


def test_a_reporting_api_batch_stores_its_csp_violations_and_ignores_other_types(client):
    # given a report-to batch: two CSP violations (a data: image, an eval) and a deprecation report
    batch = [
        reporting(document=f"https://shop.example/catalogue/?q={EMAIL_IN_QUERY}", directive="img-src",
                  blocked="data:image/png;base64,iVBORw0KGgo=", sourceFile="https://shop.example/static/a.js?v=3",
                  lineNumber=12),
        {"type": "deprecation", "url": "https://shop.example/", "body": {"id": "X", "message": "old API"}},
        reporting(document="https://shop.example/basket/", directive="script-src", blocked="eval"),
    ]

    # when posted as application/reports+json
    answer = post(client, batch, content_type="application/reports+json")

    # then both violations are stored, keywords and the data: scheme as sent, nothing of the query
    assert answer.status_code == 204
    assert rows() == [("/catalogue/", "img-src", "data", "report", "https://shop.example/static/a.js", 12, 1),
                      ("/basket/", "script-src", "eval", "report", "", None, 1)]
    assert "fan" not in every_stored_text() and "iVBOR" not in every_stored_text()


def test_the_violated_directive_is_used_when_there_is_no_effective_directive_and_a_bare_path_is_kept(client):
    # given a CSP2-style report: no effective-directive, a violated-directive with its sources, no disposition
    body = {"csp-report": {"document-uri": "https://shop.example/about/", "violated-directive": "style-src 'self'",
                           "blocked-uri": "/static/x.css?v=1#f"}}

    assert post(client, body, content_type="application/json").status_code == 204

    assert rows() == [("/about/", "style-src", "/static/x.css", "enforce", "", None, 1)]


def test_a_repeat_adds_to_the_count_of_its_row_and_a_different_blocked_url_is_a_row_of_its_own(client):
    # given a violation reported three times (its query differing, which is not kept), then another blocked URL
    for n in range(3):
        assert post(client, legacy(blocked=f"https://evil.example/s.js?n={n}")).status_code == 204
    first = CspViolation.objects.get()
    assert post(client, legacy(blocked="https://other.example/s.js")).status_code == 204

    # then two rows: the first counted three times, first seen before last seen
    assert rows() == [("/basket/", "script-src-elem", "https://evil.example/s.js", "enforce", "", None, 3),
                      ("/basket/", "script-src-elem", "https://other.example/s.js", "enforce", "", None, 1)]
    first.refresh_from_db()
    assert first.first_seen <= first.last_seen


def test_long_values_are_cut_to_their_fields(client):
    body = legacy(document="https://shop.example/" + "p" * 900, blocked="https://evil.example/" + "b" * 900,
                  directive="x" * 100)

    assert post(client, body).status_code == 204

    row = CspViolation.objects.get()
    assert (len(row.page), len(row.blocked_url), len(row.directive)) == (500, 500, 64)


# --- bounded -------------------------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_refused_413_and_nothing_is_stored(client, settings):
    settings.SECURITY_CSP_REPORT_MAX_BYTES = 300
    big = legacy(blocked="https://evil.example/" + "a" * 400)
    assert len(json.dumps(big)) > 300

    answer = post(client, big)

    assert answer.status_code == 413 and answer.content == b"A report may have at most 300 bytes."
    assert rows() == []


def test_a_body_longer_than_its_declared_length_is_refused_on_the_bytes_read(rf, settings):
    # given a request that declares 100 bytes and carries 1000 (a lying client; Django reads what is declared,
    # so the request's stream is given the whole body and the length is faked)
    settings.SECURITY_CSP_REPORT_MAX_BYTES = 300
    raw = json.dumps(legacy(blocked="https://evil.example/" + "a" * 800)).encode()
    request = rf.generic("POST", URL, raw, content_type="application/csp-report")
    request.META["CONTENT_LENGTH"] = "100"
    request._stream = io.BytesIO(raw)

    answer = reports.csp_report(request)

    assert answer.status_code == 413
    assert rows() == []


def test_the_report_past_the_per_minute_limit_of_one_address_is_refused_429_and_nothing_is_stored(client, settings):
    # given a limit of 3 reports a minute
    settings.SECURITY_CSP_REPORTS_PER_MINUTE = 3

    # when one address sends 3 reports, then a 4th; and another address sends one
    answers = [post(client, legacy(blocked=f"https://evil.example/{n}.js"), REMOTE_ADDR="198.51.100.7").status_code
               for n in range(4)]
    other = post(client, legacy(blocked="https://evil.example/other.js"), REMOTE_ADDR="198.51.100.8")

    # then the 4th is refused and not stored; the other address is not affected
    assert answers == [204, 204, 204, 429]
    assert other.status_code == 204
    assert sorted(r[2] for r in rows()) == ["https://evil.example/0.js", "https://evil.example/1.js",
                                           "https://evil.example/2.js", "https://evil.example/other.js"]


def test_a_batch_counts_each_of_its_violations_against_the_limit(client, settings):
    settings.SECURITY_CSP_REPORTS_PER_MINUTE = 3
    assert post(client, [reporting(blocked=f"https://cdn.example/{n}.png") for n in range(2)],
                content_type="application/reports+json").status_code == 204

    answer = post(client, [reporting(blocked=f"https://cdn.example/b{n}.png") for n in range(2)],
                  content_type="application/reports+json")

    assert answer.status_code == 429
    assert CspViolation.objects.count() == 2


@pytest.mark.parametrize(("raw", "content_type", "message"), [
    (b"{not json", "application/csp-report", b"The body is not valid JSON."),
    (b"\xff\xfe", "application/csp-report", b"The body is not valid JSON."),
    (b'{"something": 1}', "application/csp-report", b'A csp-report body must be an object with a "csp-report" member.'),
    (b'{"csp-report": {"blocked-uri": "inline", "effective-directive": "script-src"}}', "application/csp-report",
     b"The report has no document-uri."),
    (b'{"csp-report": {"document-uri": "https://shop.example/"}}', "application/csp-report",
     b"The report has no effective-directive."),
    (b'{"csp-report": {"document-uri": 5, "effective-directive": "img-src"}}', "application/csp-report",
     b"document-uri is not a string."),
    (b'{"csp-report": {"document-uri": "/", "effective-directive": "img-src", "disposition": "x"}}',
     "application/csp-report", b"disposition must be enforce or report."),
    (b'{"type": "csp-violation"}', "application/reports+json",
     b"A reports+json body must be a list of report objects."),
    (b'[{"type": "csp-violation", "body": "no"}]', "application/reports+json",
     b"A report body must be a JSON object."),
    (b'{"csp-report": {}}', "text/plain", b"Expected application/reports+json or application/csp-report, "
                                          b"not text/plain."),
])
def test_anything_not_a_report_is_refused_400_with_the_reason_and_nothing_is_stored(client, raw, content_type,
                                                                                     message):
    answer = post(client, raw, content_type=content_type)

    assert (answer.status_code, answer.content) == (400, message)
    assert rows() == []


def test_a_batch_with_one_bad_entry_stores_none_of_it(client):
    batch = [reporting(), {"type": "csp-violation", "body": {"documentURL": "https://shop.example/"}}]

    assert post(client, batch, content_type="application/reports+json").status_code == 400
    assert rows() == []


def test_only_post_is_answered(client):
    assert client.get(URL).status_code == 405
    assert client.put(URL, b"{}", content_type="application/csp-report").status_code == 405
    assert rows() == []


def test_past_the_distinct_limit_new_violations_are_counted_on_the_overflow_rows_and_repeats_still_count(
        client, settings):
    settings.SECURITY_CSP_MAX_DISTINCT = 2
    settings.SHOP_ALERT_EMAIL = ""
    for n in range(2):
        assert post(client, legacy(blocked=f"https://evil.example/{n}.js")).status_code == 204

    # when two new distinct violations come (one on the payment page) and a known one repeats
    post(client, legacy(blocked="https://evil.example/new.js"))
    post(client, legacy(document="https://shop.example/checkout/pay/100042/", blocked="https://evil.example/p.js"))
    post(client, legacy(blocked="https://evil.example/0.js"))

    # then the known one is counted on its row and the new ones on the overflow rows, none with their details
    assert rows() == [("/basket/", "script-src-elem", "https://evil.example/0.js", "enforce", "", None, 2),
                      ("/basket/", "script-src-elem", "https://evil.example/1.js", "enforce", "", None, 1),
                      (reports.OVERFLOW_PAGE, "", "", "enforce", "", None, 1),
                      (reports.OVERFLOW_PAGE, "", "", "enforce", "", None, 1)]
    assert list(CspViolation.objects.filter(is_overflow=True).order_by("pk").values_list(
        "fingerprint", "on_payment_page")) == [("overflow:other", False), ("overflow:payment", True)]


# --- the alert -----------------------------------------------------------------------------------------------


PAY_PAGE = "https://shop.example/checkout/pay/100042/?payment_intent=pi_123&email=" + EMAIL_IN_QUERY


def test_a_payment_page_violation_emails_the_alert_address_once_an_hour(client, settings,
                                                                        django_capture_on_commit_callbacks):
    settings.SHOP_ALERT_EMAIL = ALERT_TO

    # when a violation is reported on the payment page, then again at once
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, legacy(document=PAY_PAGE, blocked="https://skimmer.example/c.js")).status_code == 204
    with django_capture_on_commit_callbacks(execute=True) as repeat:
        assert post(client, legacy(document=PAY_PAGE, blocked="https://skimmer.example/c.js")).status_code == 204

    # then one email to the alert address, with the page and the directive and nothing of the query
    assert len(repeat) == 0
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [ALERT_TO]
    assert email.subject == "P6: Content-Security-Policy violation on the payment page (script-src-elem)"
    assert "Page: /checkout/pay/<n>/\n" in email.body and "Directive: script-src-elem\n" in email.body
    assert "Blocked: https://skimmer.example/c.js\n" in email.body
    assert "pi_123" not in email.body and "fan" not in email.body
    row = CspViolation.objects.get()
    assert (row.on_payment_page, row.count) == (True, 2)

    # when the hour has passed since the email, a new report emails again
    CspViolation.objects.update(alerted_at=timezone.now() - timedelta(hours=1, seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        post(client, legacy(document=PAY_PAGE, blocked="https://skimmer.example/c.js"))
    assert len(mail.outbox) == 2


def test_a_violation_elsewhere_emails_nobody_and_a_listed_path_does(client, settings,
                                                                    django_capture_on_commit_callbacks):
    settings.SHOP_ALERT_EMAIL = ALERT_TO
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert post(client, legacy(document="https://shop.example/checkout/pay/")).status_code == 204
        assert post(client, legacy(document="https://shop.example/basket/")).status_code == 204
    assert (len(callbacks), len(mail.outbox)) == (0, 0)
    assert list(CspViolation.objects.values_list("on_payment_page", flat=True)) == [False, False]

    settings.SECURITY_CSP_ALERT_PATHS = [reports.PAYMENT_PAGE, r"^/checkout/preview/$"]
    with django_capture_on_commit_callbacks(execute=True):
        post(client, legacy(document="https://shop.example/checkout/preview/"))
    assert [m.subject for m in mail.outbox] == [
        "P6: Content-Security-Policy violation on the payment page (script-src-elem)"]


def test_at_most_the_hourly_number_of_alert_emails_are_sent_whatever_the_distinct_violations(
        client, settings, django_capture_on_commit_callbacks):
    settings.SHOP_ALERT_EMAIL = ALERT_TO
    settings.SECURITY_CSP_ALERTS_PER_HOUR = 2

    with django_capture_on_commit_callbacks(execute=True):
        for n in range(4):
            assert post(client, legacy(document=f"https://shop.example/checkout/pay/10005{n}/",
                                       blocked=f"https://evil.example/{n}.js")).status_code == 204

    assert [m.body.splitlines()[4] for m in mail.outbox] == ["Blocked: https://evil.example/0.js",
                                                             "Blocked: https://evil.example/1.js"]
    assert CspViolation.objects.filter(on_payment_page=True).count() == 4
    assert reports.recent_payment_page_violations() == 4


def test_a_mail_outage_does_not_fail_the_report(client, settings, django_capture_on_commit_callbacks):
    settings.SHOP_ALERT_EMAIL = ALERT_TO
    settings.EMAIL_BACKEND = "tests.security.test_reports.BrokenBackend"

    with django_capture_on_commit_callbacks(execute=True):
        answer = post(client, legacy(document=PAY_PAGE))

    assert answer.status_code == 204
    assert CspViolation.objects.get().alerted_at is not None


class BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("mail server down")


def test_with_a_broker_the_alert_is_a_task_sent_after_the_commit(client, settings, broker,
                                                                   django_capture_on_commit_callbacks):
    from tests.jobs.support import queued_tasks

    settings.SHOP_ALERT_EMAIL = ALERT_TO
    with django_capture_on_commit_callbacks(execute=True):
        post(client, legacy(document=PAY_PAGE))

    assert queued_tasks(broker) == [("shop.security.tasks.alert_csp_violation", (CspViolation.objects.get().pk,))]
    assert mail.outbox == []


@postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_new_payment_page_violation_from_eight_threads_is_one_row_counted_eight_times_one_email(settings):
    settings.SHOP_ALERT_EMAIL = ALERT_TO
    violation = reports.parse(content_type="application/csp-report",
                              raw=json.dumps(legacy(document=PAY_PAGE)).encode())

    results = race(*[lambda: reports.record(violation)] * 8)

    assert [r for r in results if isinstance(r, Exception)] == []
    assert rows() == [("/checkout/pay/<n>/", "script-src-elem", "inline", "enforce", "", None, 8)]
    assert len(mail.outbox) == 1


# --- staff ---------------------------------------------------------------------------------------------------


def test_staff_see_the_violations_newest_first_with_the_payment_page_banner_and_filter(client, staff_client):
    # given two violations elsewhere and one on the payment page, seen at different times
    post(client, legacy(document="https://shop.example/basket/", blocked="https://a.example/a.js"))
    post(client, legacy(document=PAY_PAGE, blocked="https://skimmer.example/c.js",
                        **{"source-file": "https://shop.example/static/pay.js", "line-number": 7}))
    post(client, legacy(document=PAY_PAGE, blocked="https://skimmer.example/c.js"))
    post(client, legacy(document="https://shop.example/about/", directive="img-src", blocked="data:x"))
    now = timezone.now()
    for minutes, blocked in ((30, "https://a.example/a.js"), (10, "https://skimmer.example/c.js"), (20, "data")):
        CspViolation.objects.filter(blocked_url=blocked).update(last_seen=now - timedelta(minutes=minutes))

    page = staff_client.get(PAGE)
    text = page.content.decode()

    assert page.status_code == 200
    assert "1 Content-Security-Policy violation on the payment page in the last 24 hours" in text
    listed = [row["blocked_url"] for row in page.context["violations"].values("blocked_url")]
    assert listed == ["https://skimmer.example/c.js", "data", "https://a.example/a.js"]
    assert "<td>/checkout/pay/&lt;n&gt;/</td>" in text and "<td>2</td>" in text
    assert "https://shop.example/static/pay.js:7" not in text  # the later report had no source: latest kept
    assert "<td>/about/</td>" in text and "<td>img-src</td>" in text

    payment_only = staff_client.get(PAGE + "?payment=1")
    assert [v.page for v in payment_only.context["violations"]] == ["/checkout/pay/<n>/"]
    assert payment_only.context["payment_page_only"] is True


def test_the_banner_counts_only_payment_page_violations_of_the_last_24_hours(client):
    assert Template("{% load security_dashboard %}{% csp_payment_page_banner %}").render(Context()).strip() == ""
    for n in range(3):
        post(client, legacy(document=f"https://shop.example/checkout/pay/10004{n}/",
                            blocked=f"https://evil.example/{n}.js"))
    post(client, legacy(document="https://shop.example/basket/"))
    CspViolation.objects.filter(blocked_url="https://evil.example/0.js").update(
        last_seen=timezone.now() - timedelta(hours=25))

    banner = Template("{% load security_dashboard %}{% csp_payment_page_banner %}").render(Context())

    assert reports.recent_payment_page_violations() == 2
    assert "2 Content-Security-Policy violations on the payment page in the last 24 hours" in banner


def test_the_violation_page_is_for_staff_only(client, django_user_model):
    post(client, legacy(document=PAY_PAGE))

    anonymous = client.get(PAGE)
    assert (anonymous.status_code, anonymous["Location"]) == (302, f"/dashboard/login/?next={PAGE}")

    fan = django_user_model.objects.create_user(username="fan", email="fan@example.org", password="fan-pass-123")
    client.force_login(fan)
    refused = client.get(PAGE)
    assert refused.status_code == 403
    assert b"/checkout/pay/" not in refused.content


def test_one_cause_on_every_fans_payment_page_is_one_row(client):
    # the same injected script on two orders' payment pages: the order number is not kept, the cause is counted
    for number in ("100071", "100072"):
        assert post(client, legacy(document=f"https://shop.example/checkout/pay/{number}/?x=1")).status_code == 204
    assert list(CspViolation.objects.values_list("page", "blocked_url", "count", "on_payment_page")) == [
        ("/checkout/pay/<n>/", "inline", 2, True)]


def test_the_dashboard_index_warns_of_payment_page_violations(client, staff_client):
    assert "Content-Security-Policy" not in staff_client.get("/dashboard/").content.decode()
    post(client, legacy(document="https://shop.example/checkout/pay/100081/"))
    index = staff_client.get("/dashboard/").content.decode()
    assert "1 Content-Security-Policy violation on the payment page in the last 24 hours" in index
    assert "/dashboard/security/csp-violations/?payment=1" in index
