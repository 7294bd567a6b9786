"""/favicon.ico: browsers (and crawlers) ask for it at the site root whatever a page's <link rel="icon">
says, and pages that are not HTML (the API, JSON, the webhook) have no link at all. The same file is the
static ``shop/favicon.ico`` that the base template links; it is read once, at import."""

from pathlib import Path

from django.http import HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

ICON = (Path(__file__).resolve().parent / "static" / "shop" / "favicon.ico").read_bytes()


@require_safe
@cache_control(public=True, max_age=24 * 3600)
def favicon(request):
    return HttpResponse(ICON, content_type="image/vnd.microsoft.icon")
