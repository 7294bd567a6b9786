"""Content-Security-Policy violation reports: received, kept without personal data, alerted on (issue 18).

Browsers POST them to /security/csp-report/ in two formats: `report-uri`'s (`application/csp-report`, one
`{"csp-report": {...}}` object with hyphenated names) and the Reporting API's for `report-to`
(`application/reports+json`, a list of `{"type": "csp-violation", "body": {...}}` with camelCase names; entries
of other types are ignored). The endpoint is public and unauthenticated, so it is bounded three ways: the body
(SECURITY_CSP_REPORT_MAX_BYTES, else 413), the reports per client address and minute
(SECURITY_CSP_REPORTS_PER_MINUTE, else 429; a window opened by the address's first report, counted in the
cache under a keyed hash of the address, never the address) and the distinct rows kept
(SECURITY_CSP_MAX_DISTINCT; past it, new distinct violations are only counted in an overflow row). A rejected
request writes nothing.

A violation on a page of SECURITY_CSP_ALERT_PATHS (the payment page) emails SHOP_ALERT_EMAIL through the
background jobs after the commit (a mail outage never fails the report), at most once per row per
SECURITY_CSP_ALERT_INTERVAL_SECONDS: the row's `alerted_at` is claimed by one conditional UPDATE, so two
concurrent reports send one email; and at most SECURITY_CSP_ALERTS_PER_HOUR such emails an hour in all (the
endpoint is public: forged distinct reports must not flood the alert address; the dashboard banner still counts).
"""

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from shop.security.models import CspViolation

logger = logging.getLogger("shop.security")

REPORT_URI_TYPES = {"application/csp-report", "application/json"}  # older Firefox sent report-uri's as json
REPORTING_API_TYPE = "application/reports+json"
PAYMENT_PAGE = r"^/checkout/pay/[^/]+/$"
PAGE_MAX, URL_MAX, DIRECTIVE_MAX = 500, 500, 64
OVERFLOW_PAGE = "(not stored: SECURITY_CSP_MAX_DISTINCT reached)"


#: A path segment that is a number (an order number): stored as ``<n>``.
NUMBER_SEGMENT = re.compile(r"/\d+(?=/|$)")


def max_bytes():
    return int(getattr(settings, "SECURITY_CSP_REPORT_MAX_BYTES", 8192))


def per_minute():
    return int(getattr(settings, "SECURITY_CSP_REPORTS_PER_MINUTE", 30))


def max_distinct():
    return int(getattr(settings, "SECURITY_CSP_MAX_DISTINCT", 1000))


def alert_paths():
    return list(getattr(settings, "SECURITY_CSP_ALERT_PATHS", [PAYMENT_PAGE]))


def alerts_per_hour():
    return int(getattr(settings, "SECURITY_CSP_ALERTS_PER_HOUR", 10))


def alert_interval():
    return timedelta(seconds=int(getattr(settings, "SECURITY_CSP_ALERT_INTERVAL_SECONDS", 3600)))


class BadReport(ValueError):
    """The request is not a violation report we understand (answered 400 with the message)."""


@dataclass(frozen=True)
class Violation:
    """One reported violation, already stripped of anything personal."""

    page: str
    directive: str
    blocked_url: str
    disposition: str
    source_file: str
    line_number: int | None

    @property
    def fingerprint(self):
        key = "\n".join((self.page, self.directive, self.blocked_url))
        return hashlib.sha256(key.encode()).hexdigest()


# --- parsing and stripping --------------------------------------------------------------------------------


def page_path(url):
    """The document's path alone: no scheme, host, query or fragment (a query may hold an email), and every
    all-digit segment (an order number) as ``<n>``, so that one cause on every fan's payment page is one row."""
    try:
        path = urlsplit(url.strip()).path
    except ValueError:
        raise BadReport("The document URL is not a URL.") from None
    return NUMBER_SEGMENT.sub("/<n>", path or "/")[:PAGE_MAX]


def strip_url(value):
    """A blocked or source URL as origin + path. A keyword (`inline`, `eval`, `wasm-eval`) stays as sent; a URL
    without a host (`data:...`, `blob:...`, `about:blank`) is kept as its scheme alone; no user info, query or
    fragment is ever kept."""
    value = value.strip()
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return "(invalid URL)"
    if parts.scheme and parts.netloc:
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        return f"{parts.scheme.lower()}://{host}{f':{port}' if port else ''}{parts.path}"[:URL_MAX]
    if parts.scheme:
        return parts.scheme.lower()
    return re.split(r"[?#]", value, maxsplit=1)[0][:URL_MAX]


def _text(body, *names):
    for name in names:
        value = body.get(name)
        if value is not None:
            if not isinstance(value, str):
                raise BadReport(f"{name} is not a string.")
            return value
    return ""


def _line(value):
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    return value if isinstance(value, int) and 0 <= value <= 2_147_483_647 else None


def _violation(body, *, document, effective, violated, blocked, source, line):
    """A Violation from one report body; the names are the format's (report-uri's or the Reporting API's)."""
    if not isinstance(body, dict):
        raise BadReport("A report body must be a JSON object.")
    document_url = _text(body, document)
    if not document_url:
        raise BadReport(f"The report has no {document}.")
    directive = _text(body, effective) or (_text(body, violated) if violated else "")
    directive = (directive.split() or [""])[0].lower()[:DIRECTIVE_MAX]  # CSP2's violated-directive has its sources
    if not directive:
        raise BadReport(f"The report has no {effective}.")
    disposition = _text(body, "disposition") or CspViolation.ENFORCE
    if disposition not in (CspViolation.ENFORCE, CspViolation.REPORT):
        raise BadReport("disposition must be enforce or report.")
    return Violation(page=page_path(document_url), directive=directive, blocked_url=strip_url(_text(body, blocked)),
                     disposition=disposition, source_file=strip_url(_text(body, source)),
                     line_number=_line(body.get(line)))


def parse(*, content_type, raw):
    """The violations in a report request's body. Raises BadReport."""
    if content_type not in REPORT_URI_TYPES and content_type != REPORTING_API_TYPE:
        raise BadReport(f"Expected {REPORTING_API_TYPE} or application/csp-report, not {content_type or 'nothing'}.")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadReport("The body is not valid JSON.") from None
    if content_type == REPORTING_API_TYPE:
        if not isinstance(data, list) or not all(isinstance(entry, dict) for entry in data):
            raise BadReport("A reports+json body must be a list of report objects.")
        return [_violation(entry.get("body"), document="documentURL", effective="effectiveDirective", violated=None,
                           blocked="blockedURL", source="sourceFile", line="lineNumber")
                for entry in data if entry.get("type") == "csp-violation"]
    if not isinstance(data, dict) or "csp-report" not in data:
        raise BadReport('A csp-report body must be an object with a "csp-report" member.')
    return [_violation(data["csp-report"], document="document-uri", effective="effective-directive",
                       violated="violated-directive", blocked="blocked-uri", source="source-file", line="line-number")]


# --- limits --------------------------------------------------------------------------------------------------


def over_rate_limit(request, n):
    """Count `n` reports against the client address's minute; True once it is past SECURITY_CSP_REPORTS_PER_MINUTE.
    A cache that cannot answer lets reports through (the body and row limits still hold)."""
    address = get_client_ip_address(request) or ""
    key = "security:csp-reports:" + hashlib.sha256(f"{settings.SECRET_KEY}:csp:{address}".encode()).hexdigest()[:32]
    try:
        cache.add(key, 0, timeout=60)  # the window opens with the address's first report and is not extended
        count = cache.incr(key, n)
    except ValueError:  # the window expired between add and incr
        cache.set(key, n, timeout=60)
        count = n
    return count is not None and count > per_minute()


# --- storing and alerting (the service) --------------------------------------------------------------------


def is_alert_page(page):
    return any(re.search(pattern, page) for pattern in alert_paths())


def record(violations, *, now=None):
    """Store each violation: a new row, or +1 on the row of the same (page, directive, blocked URL). Past
    SECURITY_CSP_MAX_DISTINCT rows a new distinct violation is counted on the overflow row (the payment page's
    or the others'). A payment-page row whose alert is due is claimed and its email enqueued on commit.
    Returns the rows' pks."""
    now = now or timezone.now()
    pks = []
    for violation in violations:
        with transaction.atomic():
            alert = is_alert_page(violation.page)
            pk = _count(violation, alert=alert, now=now)
            if alert:
                _alert(pk, now=now)
        pks.append(pk)
    return pks


def _count(violation, *, alert, now):
    fields = {"disposition": violation.disposition, "source_file": violation.source_file,
              "line_number": violation.line_number}
    fingerprint = violation.fingerprint
    row = {"page": violation.page, "directive": violation.directive, "blocked_url": violation.blocked_url}
    pk = _add_one(fingerprint, now=now, **fields)
    if pk is None and CspViolation.objects.filter(is_overflow=False).count() >= max_distinct():
        logger.warning("CSP violation not stored (SECURITY_CSP_MAX_DISTINCT reached): %s on %s",
                       violation.directive, violation.page)
        fingerprint = f"overflow:{'payment' if alert else 'other'}"
        row = {"page": OVERFLOW_PAGE, "directive": "", "blocked_url": "", "is_overflow": True}
        fields = {"disposition": violation.disposition, "source_file": "", "line_number": None}
        pk = _add_one(fingerprint, now=now, **fields)
    if pk is not None:
        return pk
    try:
        with transaction.atomic():  # a savepoint: a concurrent report creating the same row loses nothing
            return CspViolation.objects.create(fingerprint=fingerprint, first_seen=now, last_seen=now,
                                               on_payment_page=alert, **row, **fields).pk
    except IntegrityError:
        return _add_one(fingerprint, now=now, **fields)


def _add_one(fingerprint, *, now, **fields):
    """+1 on the row `fingerprint` (its latest disposition, source and line kept): its pk, None when there is none.
    One UPDATE: concurrent repeats all count."""
    pk = CspViolation.objects.filter(fingerprint=fingerprint).values_list("pk", flat=True).first()
    if pk is not None:
        CspViolation.objects.filter(pk=pk).update(count=F("count") + 1, last_seen=now, **fields)
    return pk


def _alert(pk, *, now):
    # Anyone can post a report naming the payment page: distinct forged violations must not become a mail flood.
    # Past SECURITY_CSP_ALERTS_PER_HOUR emails (all rows) the banner alone tells staff.
    if CspViolation.objects.filter(alerted_at__gt=now - timedelta(hours=1)).count() >= alerts_per_hour():
        logger.warning("CSP violation on the payment page not emailed (SECURITY_CSP_ALERTS_PER_HOUR reached)")
        return
    claimed = (CspViolation.objects.filter(pk=pk)
               .filter(Q(alerted_at__isnull=True) | Q(alerted_at__lte=now - alert_interval()))
               .update(alerted_at=now))
    if claimed:
        from shop.jobs.queue import enqueue
        from shop.security import tasks

        enqueue(tasks.alert_csp_violation, pk)


def send_alert(*, pk):
    """Email SHOP_ALERT_EMAIL about the payment-page violation `pk` (the task's body; never raises)."""
    from django.urls import reverse

    from shop.jobs.periodic import alert_staff

    row = CspViolation.objects.filter(pk=pk).first()
    if row is None:
        return
    what = (f"Page: {row.page}\nDirective: {row.directive or '-'}\nBlocked: {row.blocked_url or '-'}\n"
            f"Disposition: {row.disposition}\n"
            f"Source: {row.source_file or '-'}{f':{row.line_number}' if row.line_number else ''}\n"
            f"Seen {row.count} time(s), first {row.first_seen:%Y-%m-%d %H:%M:%S} UTC, "
            f"last {row.last_seen:%Y-%m-%d %H:%M:%S} UTC.\n")
    alert_staff(subject=f"P6: Content-Security-Policy violation on the payment page ({row.directive or 'overflow'})",
                body=f"A browser reported a Content-Security-Policy violation on the payment page, where a "
                     f"script that should not be there may be reading card details.\n\n{what}\n"
                     f"All reports: {reverse('security-dashboard:csp-violations')}?payment=1\n"
                     f"No further email about this violation for {alert_interval()}.\n")


# --- reading (selectors) -------------------------------------------------------------------------------------


def violations(*, payment_page_only=False):
    rows = CspViolation.objects.order_by("-last_seen", "-pk")
    return rows.filter(on_payment_page=True) if payment_page_only else rows


def recent_payment_page_violations(*, hours=24):
    """How many distinct payment-page violations (rows) were reported in the last `hours`."""
    since = timezone.now() - timedelta(hours=hours)
    return CspViolation.objects.filter(on_payment_page=True, last_seen__gte=since).count()


# --- the endpoint -------------------------------------------------------------------------------------------


def _answer(status, message=""):
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


@csrf_exempt
@require_POST
def csp_report(request):
    """Where browsers report violations: 204 stored (or counted), 400 not a report, 413 too big, 429 too many."""
    limit = max_bytes()
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _answer(400, "Bad Content-Length.")
    if declared > limit:
        return _answer(413, f"A report may have at most {limit} bytes.")
    raw = request.read(limit + 1)
    if len(raw) > limit:
        return _answer(413, f"A report may have at most {limit} bytes.")
    try:
        found = parse(content_type=request.content_type, raw=raw)
    except BadReport as bad:
        return _answer(400, str(bad))
    if found and over_rate_limit(request, len(found)):
        return _answer(429, "Too many reports from this address; try again in a minute.")
    record(found)
    return HttpResponse(status=204)
