"""Staff page of shop.security: the Content-Security-Policy violations browsers reported (staff only, through
SecurityDashboardConfig's is_staff permission)."""

from django.conf import settings
from django.views.generic import ListView

from shop.security import reports


class ViolationListView(ListView):
    template_name = "security/dashboard/csp_violations.html"
    context_object_name = "violations"
    paginate_by = 50

    def payment_page_only(self):
        return self.request.GET.get("payment") == "1"

    def get_queryset(self):
        return reports.violations(payment_page_only=self.payment_page_only())

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(payment_page_only=self.payment_page_only(), max_distinct=reports.max_distinct(),
                   alert_to=getattr(settings, "SHOP_ALERT_EMAIL", ""))
        return ctx
