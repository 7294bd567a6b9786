"""The Content-Security-Policy violations browsers report (shop.security.reports).

- CspViolation: one row per distinct violation, (page path, directive, blocked URL), found by `fingerprint`
  (a hash of the three: unique, short enough for any index); repeats only add to `count` and move `last_seen`.
  Nothing personal is kept: the page is a path without query or fragment, URLs are an origin and a path,
  keywords (`inline`, `eval`) as the browser sent them, `data:`/`blob:` URLs their scheme only; no address,
  no user agent, no cookie. Past SECURITY_CSP_MAX_DISTINCT rows, a new distinct violation is added to one of
  the two overflow rows (`is_overflow`: the payment page's and the others') instead of a row of its own.
- `on_payment_page` is decided when the row is first written (SECURITY_CSP_ALERT_PATHS), and `alerted_at`
  is when staff were last emailed about the row: at most once per SECURITY_CSP_ALERT_INTERVAL_SECONDS.
"""

from django.db import models


class CspViolation(models.Model):
    ENFORCE, REPORT = "enforce", "report"
    DISPOSITIONS = [(ENFORCE, "enforced (blocked)"), (REPORT, "report only")]

    fingerprint = models.CharField(max_length=64, unique=True)
    page = models.CharField(max_length=500, help_text="the document's path, without query or fragment")
    directive = models.CharField(max_length=64)
    blocked_url = models.CharField(max_length=500, blank=True)
    disposition = models.CharField(max_length=8, choices=DISPOSITIONS, default=ENFORCE)
    source_file = models.CharField(max_length=500, blank=True)
    line_number = models.PositiveIntegerField(null=True, blank=True)
    count = models.PositiveBigIntegerField(default=1)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    on_payment_page = models.BooleanField(default=False)
    is_overflow = models.BooleanField(default=False)
    alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen", "-pk"]
        indexes = [models.Index(fields=["-last_seen"]), models.Index(fields=["on_payment_page", "-last_seen"])]

    def __str__(self):
        return f"{self.directive} on {self.page}: {self.blocked_url or '(none)'} ×{self.count}"
