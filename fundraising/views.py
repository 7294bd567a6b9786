"""Public transparency page ``/fundraising/`` and ``/fundraising/totals.json``: same figures, no personal data."""

from django.http import JsonResponse
from django.utils.cache import patch_cache_control
from django.views.generic import TemplateView

from fundraising.public import as_json, transparency_totals

MAX_AGE = 60


class TransparencyView(TemplateView):
    template_name = "fundraising/transparency.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["totals"] = transparency_totals()
        return ctx

    # No shared-cache header here: the page carries the fan's basket and login in Oscar's layout.


def totals_json(request):
    """The transparency figures (schema in README.md, "Transparency JSON"); cacheable by anyone for a minute."""
    response = JsonResponse(as_json(transparency_totals()), json_dumps_params={"ensure_ascii": False})
    patch_cache_control(response, public=True, max_age=MAX_AGE)
    response["Access-Control-Allow-Origin"] = "*"
    return response
