"""The fundraising section of the dashboard: read the ledger, pay it out, set its rules.

Reads go through ``fundraising.selectors`` (and ``fundraising.exports`` for the downloads); writes
through ``fundraising.services`` only: no view queries or writes the ORM itself. Every page makes a
fixed number of queries whatever the size of the ledger (balances from checkpoints, keyset
pagination, related rows joined or prefetched).
"""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.generic import CreateView, FormView, ListView, TemplateView, UpdateView

from fundraising import exports, selectors, services
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
from fundraising.models import Beneficiary, CampaignGoal
from fundraising.money import quantize
from fundraising.templatetags.fundraising_tags import money

ZERO = Decimal(0)
PAGE_SIZE = 50
CHART_DAYS = 60


def ledger_currencies():
    """Every currency that has an account, and the shop's (one query)."""
    return selectors.ledger_currencies(including=[settings.SHOP_CURRENCY])


class OverviewView(TemplateView):
    template_name = "fundraising/dashboard/overview.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        sections = []
        partners = {}
        for row in selectors.partner_totals():
            partners.setdefault(row.currency, []).append(row)
        for currency in ledger_currencies():
            rows = selectors.beneficiary_balances(currency=currency)
            totals = {
                name: quantize(sum((getattr(row, name) for row in rows), ZERO), currency)
                for name in ("earned", "reversed", "disbursed", "adjusted", "payable", "receivable")
            }
            sections.append({"currency": currency, "rows": rows, "totals": totals,
                             "sources": sources(rows, currency, partners.get(currency, [])),
                             "chart": self.chart(currency)})
        ctx["sections"] = sections
        ctx["period_start"], ctx["period_end"] = default_period()
        ctx["rule"] = selectors.rule_in_force()
        ctx["verification"] = selectors.latest_verification()
        return ctx

    def chart(self, currency):
        end = timezone.now().date()
        start = end - dt.timedelta(days=CHART_DAYS - 1)
        by_day = selectors.donations_per_day(currency=currency, start=start)
        title = _("Donations per day over the last %(days)s days (%(currency)s)") % {
            "days": CHART_DAYS, "currency": currency}
        return mark_safe(chart.donations_svg(chart.fill_days(by_day, start=start, end=end),
                                             currency=currency, title=title))


def sources(rows, currency, partner_rows):
    """The overview's split of what the groups earned in ``currency``: this shop's online sales, then each
    partner's reports and all partners together (``earned``, ``reversed``, ``net``), from the balances' rows."""
    def line(key, label, earned, reversed_, **extra):
        return {"key": key, "label": label, "earned": quantize(earned, currency),
                "reversed": quantize(reversed_, currency), "net": quantize(earned - reversed_, currency), **extra}

    online = line("online", _("Online shop"), sum((r.earned_online for r in rows), ZERO),
                  sum((r.reversed_online for r in rows), ZERO))
    partner = line("partners", _("All partners"), sum((r.earned_partner for r in rows), ZERO),
                   sum((r.reversed_partner for r in rows), ZERO))
    each = [line(f"partner-{t.partner.slug}", t.partner.name, t.donated, t.reversed, partner=t.partner,
                 units_sold=t.units_sold, units_returned=t.units_returned) for t in partner_rows]
    return [online, *each, partner] if each or partner["earned"] or partner["reversed"] else [online]


def filtered_entries(form):
    """The ledger rows for a bound filter form, newest first (none when the filters are invalid)."""
    if not form.is_valid():
        return selectors.ledger_entries().none()
    data = form.cleaned_data
    return selectors.ledger_entries(
        beneficiary=data.get("beneficiary"), kind=data.get("kind"), currency=data.get("currency"),
        date_from=data.get("date_from"), date_to=data.get("date_to"), order_number=data.get("order"),
        source=data.get("source"), partner=data.get("partner"), store=data.get("store"),
    )


class LedgerView(TemplateView):
    """Entries, newest first, with keyset pagination on the entry id (``?after=<id>`` / ``?before=<id>``)."""

    template_name = "fundraising/dashboard/ledger.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        form = LedgerFilterForm(self.request.GET)  # always bound: no filter is a valid filter
        found = selectors.entry_page(
            entries=filtered_entries(form), size=PAGE_SIZE,
            after=_cursor(self.request.GET.get("after")), before=_cursor(self.request.GET.get("before")),
        )
        page = found.entries
        query = self.request.GET.copy()
        query.pop("after", None)
        query.pop("before", None)
        base = query.urlencode()
        entries = filtered_entries(form)
        ctx.update(
            form=form,
            entries=page,
            totals=selectors.entry_totals(entries) if form.is_valid() else [],
            filtered=form.is_valid() and any(form.cleaned_data.get(name) for name in form.fields),
            statement_query=statement_query(form),
            next_url=f"?{base}&after={page[-1].pk}" if page and found.has_older else None,
            previous_url=f"?{base}&before={page[0].pk}" if page and found.has_newer else None,
            filter_query=base,
        )
        return ctx


def statement_query(form):
    """The statement's query for a ledger filtered by beneficiary: that group, the filter's currency (else the
    shop's) and period (else the current month, UTC); None without a beneficiary."""
    if not form.is_valid() or not form.cleaned_data.get("beneficiary"):
        return None
    data = form.cleaned_data
    start, end = default_period()
    return urlencode({
        "beneficiary": data["beneficiary"].pk, "currency": data.get("currency") or settings.SHOP_CURRENCY,
        "start": (data.get("date_from") or start).isoformat(), "end": (data.get("date_to") or end).isoformat(),
    })


def default_period():
    """The current month so far, in UTC days: (first day, today)."""
    today = timezone.now().astimezone(dt.timezone.utc).date()
    return today.replace(day=1), today


def _cursor(value):
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


class LedgerCsvView(TemplateView):
    """Every row the ledger view shows for the same filters (all its pages, in its order), as CSV."""

    def get(self, request, *args, **kwargs):
        form = LedgerFilterForm(request.GET)
        response = StreamingHttpResponse(exports.entries_csv(filtered_entries(form)),
                                         content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="p6-ledger.csv"'
        return response


class LedgerBeancountView(TemplateView):
    """The ledger as a beancount file for the same filters as the ledger view: unfiltered (or filtered by
    currency only) exactly ``export_ledger --format beancount [--currency]``; otherwise the transactions of
    the rows the ledger shows, each whole (a beancount transaction balances). Invalid filters: no transaction."""

    def get(self, request, *args, **kwargs):
        form = LedgerFilterForm(request.GET)
        if not form.is_valid():
            text = "".join(exports.beancount(transactions=[]))
        else:
            data = form.cleaned_data
            currency = data.get("currency") or None
            others = [name for name in form.fields if name != "currency" and data.get(name)]
            transactions = filtered_entries(form).values("transaction_id") if others else None
            text = "".join(exports.beancount(currency=currency, transactions=transactions))
        response = HttpResponse(text, content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="p6-ledger.beancount"'
        return response


class LedgerBreakdownCsvView(TemplateView):
    """The breakdown CSV (``export_ledger --format breakdown-csv``'s columns) of the order lines and partner report
    lines of the rows the ledger shows for the same filters, only the filtered beneficiary's parts when it filters
    one."""

    def get(self, request, *args, **kwargs):
        form = LedgerFilterForm(request.GET)
        if form.is_valid():
            data = form.cleaned_data
            entries = filtered_entries(form)
            orders = entries.filter(transaction__order__isnull=False).values("transaction__order_id")
            partner_lines = entries.filter(transaction__partner_line__isnull=False).values(
                "transaction__partner_line__id")
            lines = exports.breakdown_csv(currency=data.get("currency") or None, orders=orders,
                                          partner_lines=partner_lines, beneficiary=data.get("beneficiary"))
        else:
            lines = exports.breakdown_csv(orders=[], partner_lines=[])
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="p6-breakdown.csv"'
        return response


class StatementView(TemplateView):
    template_name = "fundraising/dashboard/statement.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        start, end = default_period()
        defaults = {"currency": settings.SHOP_CURRENCY, "start": start.isoformat(), "end": end.isoformat()}
        data = None
        if self.request.GET:
            # A link naming the group alone (e.g. from a list) gets the shop currency and the current month.
            data = self.request.GET.copy()
            for name, value in defaults.items():
                if not data.get(name):
                    data[name] = value
        form = StatementForm(data, initial={**defaults, "beneficiary": self.request.GET.get("beneficiary")})
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
        return selectors.disbursements()


class DisbursementCreateView(FormView):
    """Form, then a confirmation page, then ``services.record_disbursement`` (which checks again, locked)."""

    form_class = DisbursementForm
    template_name = "fundraising/dashboard/disbursement_form.html"

    def get_initial(self):
        initial = {"currency": settings.SHOP_CURRENCY, "paid_on": timezone.now().date()}
        if _cursor(self.request.GET.get("beneficiary")) is not None:
            initial["beneficiary"] = self.request.GET["beneficiary"]
        return initial

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        # What each group can be paid now, shown before anything is typed (balances from checkpoints).
        ctx["payables"] = [
            {"currency": code, "rows": [row for row in selectors.beneficiary_balances(currency=code)
                                        if row.payable or row.beneficiary.active]}
            for code in ledger_currencies()
        ]
        return ctx

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
        messages.success(self.request, _("Recorded the payout of %(amount)s to %(beneficiary)s.") % {
            "amount": money(disbursement.amount, disbursement.currency), "beneficiary": disbursement.beneficiary})
        return redirect("fundraising-dashboard:disbursement-list")


class BeneficiaryListView(ListView):
    template_name = "fundraising/dashboard/beneficiary_list.html"
    context_object_name = "beneficiaries"

    def get_queryset(self):
        return selectors.beneficiaries()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["currency"] = settings.SHOP_CURRENCY
        ctx["period_start"], ctx["period_end"] = default_period()
        return ctx


class BeneficiaryCreateView(CreateView):
    """Create (or, below, edit) a beneficiary: the model form validates, ``services.save_beneficiary`` writes."""

    model = Beneficiary
    form_class = BeneficiaryForm
    template_name = "fundraising/dashboard/beneficiary_form.html"

    def get_queryset(self):
        return selectors.beneficiaries()

    def form_valid(self, form):
        data = form.cleaned_data
        self.object = services.save_beneficiary(
            beneficiary=self.object, name=data["name"], slug=data["slug"], description=data["description"],
            country=data["country"], active=data["active"], default_weight=data["default_weight"],
        )
        return redirect(self.get_success_url())

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
        return selectors.share_rules()

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
        kwargs["beneficiaries"] = selectors.beneficiaries(active=True)
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
        # An unsaved goal when none was set yet: the form validates its amount in that currency.
        kwargs["instance"] = selectors.campaign_goal(currency=settings.SHOP_CURRENCY) or CampaignGoal(
            currency=settings.SHOP_CURRENCY)
        return kwargs

    def form_valid(self, form):
        services.set_campaign_goal(currency=settings.SHOP_CURRENCY, amount=form.cleaned_data["amount"],
                                   updated_by=self.request.user)
        messages.success(self.request, _("Saved the campaign goal."))
        return redirect("fundraising-dashboard:overview")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["currency"] = settings.SHOP_CURRENCY
        return ctx
