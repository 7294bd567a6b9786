from django.contrib import messages
from django.db import transaction
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.generic import FormView, ListView
from oscar.core.loading import get_model

from catalog.models import UnitCost
from fundraising.dashboard.unit_costs.forms import UnitCostForm
from fundraising.templatetags.fundraising_tags import money

StockRecord = get_model("partner", "StockRecord")


class UnitCostListView(ListView):
    """Every stock record with its price, unit cost and margin; searchable by SKU or title."""

    template_name = "fundraising/dashboard/unit_cost_list.html"
    context_object_name = "stockrecords"
    paginate_by = 50

    def get_queryset(self):
        qs = StockRecord.objects.select_related("product", "product__parent", "partner", "unit_cost").order_by(
            "partner_sku"
        )
        query = self.request.GET.get("q", "").strip()
        if query:
            qs = qs.filter(
                Q(partner_sku__icontains=query) | Q(product__title__icontains=query)
                | Q(product__parent__title__icontains=query)
            )
        return qs

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["query"] = self.request.GET.get("q", "")
        for record in ctx["stockrecords"]:
            cost = getattr(record, "unit_cost", None)  # reverse one-to-one: AttributeError when missing
            record.margin = record.price - cost.amount if cost is not None and record.price is not None else None
        return ctx


class UnitCostUpdateView(FormView):
    template_name = "fundraising/dashboard/unit_cost_form.html"
    form_class = UnitCostForm

    def dispatch(self, request, *args, **kwargs):
        self.stockrecord = get_object_or_404(
            StockRecord.objects.select_related("product", "partner"), pk=kwargs["stockrecord_pk"]
        )
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["price"] = self.stockrecord.price
        kwargs["currency"] = self.stockrecord.price_currency
        return kwargs

    def get_initial(self):
        cost = UnitCost.objects.filter(stockrecord=self.stockrecord).first()
        return {"amount": cost.amount} if cost else {}

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["stockrecord"] = self.stockrecord
        return ctx

    def form_valid(self, form):
        amount = form.cleaned_data["amount"]
        with transaction.atomic():
            UnitCost.objects.update_or_create(
                stockrecord=self.stockrecord,
                defaults={"amount": amount, "currency": self.stockrecord.price_currency},
            )
        if self.stockrecord.price is not None and amount >= self.stockrecord.price:
            messages.warning(
                self.request,
                _("The unit cost of %(sku)s is not below its price: its sales give no donation.")
                % {"sku": self.stockrecord.partner_sku},
            )
        messages.success(
            self.request,
            _("Unit cost of %(sku)s set to %(amount)s.")
            % {"sku": self.stockrecord.partner_sku, "amount": money(amount, self.stockrecord.price_currency)},
        )
        return redirect("catalog-dashboard:unit-cost-list")
