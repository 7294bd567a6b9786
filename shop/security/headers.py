"""The shop's security headers: the Content-Security-Policy (django-csp 4) and Permissions-Policy (issue 18;
PCI DSS 4.0.1 requirements 6.4.3 and 11.6.1; README "Security headers").

Every page gets the policy of ``settings.CONTENT_SECURITY_POLICY``: our own origin only, no plugins, no frames, no
framing by others, inline scripts and ``<style>`` elements only with the request's nonce (``{{ csp_nonce }}`` in
templates, from ``context_processors.csp_nonce``), violations reported to ``/security/csp-report/``. The payment
page adds exactly Stripe's origins (``stripe_sources``), or the localstripe server's in the demo and the tests: its
view marks the response with ``allow_stripe``. A cached page carries a placeholder for the nonce, replaced per
request like the CSRF token (shop/pagecache/pages.py), so the header and the page always agree.
"""

from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware
from django.conf import settings

#: Stripe.js's origins, as Stripe documents them for a Content-Security-Policy (no Address Element, so no Maps).
STRIPE_SCRIPT = ("https://js.stripe.com", "https://*.js.stripe.com")
STRIPE_FRAME = ("https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com")
STRIPE_CONNECT = ("https://api.stripe.com",)


def stripe_sources():
    """The sources the payment page adds: Stripe's, or the localstripe server's origin when STRIPE_API_BASE is set."""
    base = settings.STRIPE_API_BASE.rstrip("/")
    if base:
        parts = urlsplit(base)
        origin = f"{parts.scheme}://{parts.netloc}"
        return {"script-src": (origin,), "frame-src": (origin,), "connect-src": (origin,)}
    return {"script-src": STRIPE_SCRIPT, "frame-src": STRIPE_FRAME, "connect-src": STRIPE_CONNECT}


def allow_stripe(response):
    """Mark ``response`` (the payment page) to allow Stripe.js: its script, its frames and its API."""
    sources = stripe_sources()
    # the same for the enforced policy and, with CSP_REPORT_ONLY, the report-only one
    response._csp_update = response._csp_update_ro = {
        "script-src": sources["script-src"], "connect-src": sources["connect-src"]}
    response._csp_replace = response._csp_replace_ro = {"frame-src": sources["frame-src"]}
    return response


class SecurityHeadersMiddleware(CSPMiddleware):
    """django-csp's middleware, plus the Permissions-Policy header."""

    def process_response(self, request, response):
        response = super().process_response(request, response)
        if settings.SECURITY_PERMISSIONS_POLICY and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = settings.SECURITY_PERMISSIONS_POLICY
        return response
