"""Public transparency page ``/fundraising/`` and ``/fundraising/totals.json``: same figures, no personal data;
and the public ledger: ``/fundraising/ledger/`` (page), ``/fundraising/ledger.json`` (feed) and
``/fundraising/ledger/head.json`` (the chain's last recorded head), fundraising.chain."""

from django.http import JsonResponse
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from fundraising import chain
from fundraising.models import GENESIS, ChainHead, ChainLink
from fundraising.public import as_json, transparency_totals

FEED_PAGE = 100
FEED_MAX = 500

MAX_AGE = 60


class TransparencyView(TemplateView):
    template_name = "fundraising/transparency.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["totals"] = transparency_totals()
        return ctx

    # No shared-cache header here: the page carries the fan's basket and login in Oscar's layout.


def totals_json(request):
    """The transparency figures (schema in README.md, "Transparency JSON"); cacheable by anyone for a minute.
    ``ledger`` names the public chain's end these figures include, read in the same snapshot, so a verifier
    compares them with exactly the feed's links up to it."""
    return _public(JsonResponse(as_json(transparency_totals()), json_dumps_params={"ensure_ascii": False}))


def _public(response, max_age=MAX_AGE):
    patch_cache_control(response, public=True, max_age=max_age)
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _after(request):
    try:
        after = int(request.GET.get("after", "0"))
        limit = int(request.GET.get("limit", str(FEED_PAGE)))
    except ValueError:
        return None, None, _("after and limit must be whole numbers.")
    if after < 0 or not 1 <= limit <= FEED_MAX:
        return None, None, _("after must be 0 or more and limit between 1 and %(max)s.") % {"max": FEED_MAX}
    return after, limit, None


def ledger_json(request):
    """The public ledger feed, oldest first, keyset-paginated by sequence number: ``?after=N&limit=L`` (at most
    500); ``next`` is the following page's address, or null at the chain's end. Schema in README.md."""
    after, limit, error = _after(request)
    if error:
        return JsonResponse({"error": error}, status=400)
    links = list(ChainLink.objects.filter(seq__gt=after).order_by("seq")[: limit + 1])
    more = len(links) > limit
    links = links[:limit]
    nxt = None
    if more:
        nxt = f"{reverse('fundraising:ledger-json')}?after={links[-1].seq}&limit={limit}"
    body = {"schema": chain.SCHEMA, "transactions": [chain.published(link) for link in links], "next": nxt}
    return _public(JsonResponse(body, json_dumps_params={"ensure_ascii": False}))


def head_json(request):
    """The chain's last recorded head (recorded hourly): save it, and later check no history before it was
    rewritten (scripts/verify_public_ledger --head)."""
    head = ChainHead.objects.order_by("-recorded_at", "-id").first()
    body = {"schema": "p6-public-ledger-head/1", "seq": head.seq if head else 0,
            "hash": head.hash if head else GENESIS,
            "recorded_at": head.recorded_at.isoformat() if head else None}
    return _public(JsonResponse(body))


class LedgerView(TemplateView):
    """Every ledger transaction's public content, newest first, a page of 50 by sequence number; with
    ``?receipt=CODE`` only that order's entries (a fan's receipt)."""

    template_name = "fundraising/ledger.html"
    per_page = 50

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        links = ChainLink.objects.order_by("-seq")
        receipt = self.request.GET.get("receipt", "").strip().upper()[:32]
        if receipt:
            links = links.filter(receipt=receipt)
        try:
            before = int(self.request.GET.get("before", "0"))
        except ValueError:
            before = 0
        if before > 0:
            links = links.filter(seq__lt=before)
        page = list(links[: self.per_page + 1])
        ctx["more"] = page[self.per_page - 1].seq if len(page) > self.per_page else None
        ctx["links"] = [chain.published(link) for link in page[: self.per_page]]
        ctx["receipt"] = receipt
        ctx["head"] = ChainHead.objects.order_by("-recorded_at", "-id").first()
        return ctx
