"""`{% csp_payment_page_banner %}`: the staff warning about recent payment-page CSP violations, for any
dashboard page (the violation list, the dashboard index). Renders nothing when there are none."""

from django import template

from shop.security import reports

register = template.Library()


@register.inclusion_tag("security/dashboard/partials/csp_banner.html")
def csp_payment_page_banner():
    return {"csp_payment_page_violations": reports.recent_payment_page_violations(hours=24)}
