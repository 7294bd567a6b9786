"""The fundraising section of the dashboard: read the ledger, pay it out, set its rules.

Reads go through ``fundraising.selectors``; writes through ``fundraising.services`` only. Every page
makes a fixed number of queries whatever the size of the ledger (balances from checkpoints, keyset
pagination, related rows joined or prefetched).
"""

import csv
import datetime as dt
import io
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.db.models import Prefetch, Sum
from django.db.models.functions import TruncDate
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.generic import CreateView, FormView, ListView, TemplateView, UpdateView

from fundraising import selectors, services
from fundraising.dashboard import chart
from fundraising.dashboard.forms import (
    BeneficiaryForm,
    DisbursementForm,
    GoalForm,
    LedgerFilterForm,
    ShareRuleForm,
    StatementForm,
)
from fundraising.exceptions import IdempotencyConflict, InsufficientPayable
from fundraising.exports import CSV_COLUMNS, entry_csv_rows
from fundraising.models import (
    Account,
    Beneficiary,
    CampaignGoal,
    Disbursement,
    Entry,
    LedgerTransaction,
    ShareRule,
    ShareRuleBeneficiary,
)
from shop.currency import quantize

ZERO = Decimal(0)
PAGE_SIZE = 50
CHART_DAYS = 60


def ledger_currencies():
    """Every currency that has an account, and the shop's (one query)."""
    return sorted(set(Account.objects.values_list("currency", flat=True).distinct()) | {settings.SHOP_CURRENCY})


class OverviewView(TemplateView):
    template_name = "fundraising/dashboard/overview.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        sections = []
        for currency in ledger_currencies():
            rows = selectors.beneficiary_balances(currency=currency)
            totals = {
                name: quantize(sum((getattr(row, name) for row in rows), ZERO), currency)
                for name in ("earned", "reversed", "disbursed", "adjusted", "payable", "receivable")
            }
            sections.append({"currency": currency, "rows": rows, "totals": totals,
                             "chart": self.chart(currency)})
        ctx["sections"] = sections
        ctx["rule"] = selectors.rule_in_force()
        return ctx

    def chart(self, currency):
        end = timezone.now().date()
        start = end - dt.timedelta(days=CHART_DAYS - 1)
        rows = (
            Entry.objects.filter(
                currency=currency, transaction__kind=LedgerTransaction.Kind.SALE,
                account__kind=Account.Kind.PAYABLE,
                posted_at__gte=dt.datetime.combine(start, dt.time.min, tzinfo=dt.timezone.utc),
            )
            .annotate(day=TruncDate("posted_at", tzinfo=dt.timezone.utc))
            .values("day").annotate(amount=Sum("credit")).order_by("day")
        )
        by_day = {row["day"]: quantize(row["amount"], currency) for row in rows}
        title = _("Donations per day over the last %(days)s days (%(currency)s)") % {
            "days": CHART_DAYS, "currency": currency}
        return mark_safe(chart.donations_svg(chart.fill_days(by_day, start=start, end=end),
                                             currency=currency, title=title))


def filtered_entries(form):
    """The ledger rows for a bound filter form, newest first, with what a row shows joined in."""
    entries = Entry.objects.select_related(
        "account", "account__beneficiary", "transaction", "transaction__order", "transaction__disbursement"
    ).order_by("-id")
    if form.is_valid():
        entries = form.filter(entries)
    else:
        entries = entries.none()
    return entries


class LedgerView(TemplateView):
    """Entries, newest first, with keyset pagination on the entry id (``?after=<id>`` / ``?before=<id>``)."""

    template_name = "fundraising/dashboard/ledger.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        form = LedgerFilterForm(self.request.GET)  # always bound: no filter is a valid filter
        entries = filtered_entries(form)
        after = _cursor(self.request.GET.get("after"))
        before = _cursor(self.request.GET.get("before"))
        if before is not None:
            page = list(entries.filter(id__gt=before).order_by("id")[: PAGE_SIZE + 1])
            has_more_newer = len(page) > PAGE_SIZE
            page = list(reversed(page[:PAGE_SIZE]))
            has_older = True
            has_newer = has_more_newer
        else:
            if after is not None:
                entries = entries.filter(id__lt=after)
            page = list(entries[: PAGE_SIZE + 1])
            has_older = len(page) > PAGE_SIZE
            page = page[:PAGE_SIZE]
            has_newer = after is not None
        query = self.request.GET.copy()
        query.pop("after", None)
        query.pop("before", None)
        base = query.urlencode()
        ctx.update(
            form=form,
            entries=page,
            next_url=f"?{base}&after={page[-1].pk}" if page and has_older else None,
            previous_url=f"?{base}&before={page[0].pk}" if page and has_newer else None,
            filter_query=base,
        )
        return ctx


def _cursor(value):
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


class _Echo:
    def write(self, value):
        return value


class LedgerCsvView(TemplateView):
    """Every row the ledger view shows for the same filters (all its pages, in its order), as CSV."""

    def get(self, request, *args, **kwargs):
        form = LedgerFilterForm(request.GET)
        entries = filtered_entries(form)
        writer = csv.writer(_Echo(), lineterminator="\n")

        def rows():
            yield writer.writerow(CSV_COLUMNS)
            for row in entry_csv_rows(entries):
                yield writer.writerow(row)

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="p6-ledger.csv"'
        return response


class LedgerBeancountView(TemplateView):
    """The ledger as a beancount file (``export_ledger --format beancount``), one currency or all."""

    def get(self, request, *args, **kwargs):
        from fundraising.management.commands.export_ledger import Command

        currency = request.GET.get("currency", "").strip().upper() or None
        if currency not in (None, *ledger_currencies()):
            currency = None
        buffer = io.StringIO()
        Command().write_beancount(buffer, currency, None)
        response = HttpResponse(buffer.getvalue(), content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="p6-ledger.beancount"'
        return response


class StatementView(TemplateView):
    template_name = "fundraising/dashboard/statement.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        form = StatementForm(self.request.GET or None, initial={
            "currency": settings.SHOP_CURRENCY,
            "start": timezone.now().date().replace(day=1), "end": timezone.now().date()})
        ctx["form"] = form
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            ctx["statement"] = selectors.statement(
                beneficiary=data["beneficiary"], currency=data["currency"], start=data["start"], end=data["end"]
            )
            ctx["start_day"], ctx["end_day"] = data["start"], data["end"]
        return ctx


class DisbursementListView(ListView):
    template_name = "fundraising/dashboard/disbursement_list.html"
    context_object_name = "disbursements"
    paginate_by = PAGE_SIZE

    def get_queryset(self):
        return Disbursement.objects.select_related("beneficiary", "created_by", "transaction").order_by("-paid_on", "-id")


class DisbursementCreateView(FormView):
    """Form, then a confirmation page, then ``services.record_disbursement`` (which checks again, locked)."""

    form_class = DisbursementForm
    template_name = "fundraising/dashboard/disbursement_form.html"

    def get_initial(self):
        return {"currency": settings.SHOP_CURRENCY, "paid_on": timezone.now().date()}

    def form_valid(self, form):
        data = form.cleaned_data
        if self.request.POST.get("confirm") != "yes":
            return self.render_to_response(self.get_context_data(form=form, confirm=True, payable=form.payable))
        try:
            disbursement = services.record_disbursement(
                beneficiary=data["beneficiary"], amount=data["amount"], currency=data["currency"],
                paid_on=data["paid_on"], reference=data["reference"], created_by=self.request.user,
            )
        except (InsufficientPayable, IdempotencyConflict, ValueError) as error:
            form.add_error(None, str(error))
            return self.form_invalid(form)
        messages.success(self.request, _("Recorded the payout of %(amount)s %(currency)s to %(beneficiary)s.") % {
            "amount": disbursement.amount, "currency": disbursement.currency, "beneficiary": disbursement.beneficiary})
        return redirect("fundraising-dashboard:disbursement-list")


class BeneficiaryListView(ListView):
    template_name = "fundraising/dashboard/beneficiary_list.html"
    context_object_name = "beneficiaries"

    def get_queryset(self):
        return Beneficiary.objects.order_by("name")


class BeneficiaryCreateView(CreateView):
    model = Beneficiary
    form_class = BeneficiaryForm
    template_name = "fundraising/dashboard/beneficiary_form.html"

    def get_success_url(self):
        messages.success(self.request, _("Saved %(name)s.") % {"name": self.object.name})
        return reverse("fundraising-dashboard:beneficiary-list")


class BeneficiaryUpdateView(BeneficiaryCreateView, UpdateView):
    pass


class RuleListView(ListView):
    """The history of share rules, newest first, with their weights."""

    template_name = "fundraising/dashboard/rule_list.html"
    context_object_name = "rules"

    def get_queryset(self):
        return ShareRule.objects.select_related("created_by").prefetch_related(
            Prefetch("allocations", queryset=ShareRuleBeneficiary.objects.select_related("beneficiary").order_by("beneficiary__name"))
        ).order_by("-valid_from")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["in_force"] = selectors.rule_in_force()
        return ctx


class RuleCreateView(FormView):
    """A new share rule from now on (``services.set_share_rule``): placed orders keep theirs."""

    form_class = ShareRuleForm
    template_name = "fundraising/dashboard/rule_form.html"

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["beneficiaries"] = Beneficiary.objects.filter(active=True).order_by("name")
        return kwargs

    def get_initial(self):
        rule = selectors.rule_in_force()
        initial = {}
        if rule is not None:
            initial["share_percent"] = Decimal(rule.share_bps) / 100
            for allocation in rule.allocations.all():
                initial[f"weight_{allocation.beneficiary_id}"] = allocation.weight
        return initial

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            services.set_share_rule(share_bps=data["share_bps"], weights=data["weights"],
                                    created_by=self.request.user, note=data["note"])
        except (TypeError, ValueError) as error:
            form.add_error(None, str(error))
            return self.form_invalid(form)
        messages.success(self.request, _("The new share rule applies to orders placed from now on."))
        return redirect("fundraising-dashboard:rule-list")


class GoalView(FormView):
    """The campaign goal shown on the public page, in the shop currency (0 hides it)."""

    form_class = GoalForm
    template_name = "fundraising/dashboard/goal_form.html"

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["instance"] = CampaignGoal.objects.filter(currency=settings.SHOP_CURRENCY).first() or CampaignGoal(
            currency=settings.SHOP_CURRENCY)
        return kwargs

    def form_valid(self, form):
        goal = form.save(commit=False)
        goal.amount = quantize(goal.amount, goal.currency)
        goal.updated_by = self.request.user
        goal.save()
        messages.success(self.request, _("Saved the campaign goal."))
        return redirect("fundraising-dashboard:overview")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["currency"] = settings.SHOP_CURRENCY
        return ctx
