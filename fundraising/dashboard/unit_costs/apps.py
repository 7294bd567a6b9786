from django.urls import path
from django.utils.translation import gettext_lazy as _
from oscar.core.application import OscarDashboardConfig


class UnitCostDashboardConfig(OscarDashboardConfig):
    """Dashboard pages for what Oscar's catalogue dashboard does not know: the unit costs of catalog.UnitCost.

    Here rather than in ``catalog`` because its form takes amounts by the money rules (``fundraising.money``)
    and catalog imports neither fundraising nor shop. The label and URL namespace are the ones it had in
    ``catalog``, so its URLs and names are unchanged.
    """

    label = "catalog_dashboard"
    name = "fundraising.dashboard.unit_costs"
    namespace = "catalog-dashboard"
    verbose_name = _("P6 catalogue dashboard")
    default_permissions = ["partner.view_stockrecord"]
    permissions_map = {
        "unit-cost-list": (["is_staff"], ["partner.view_stockrecord"]),
        "unit-cost-edit": (["is_staff"], ["partner.change_stockrecord"]),
    }

    def get_urls(self):
        from fundraising.dashboard.unit_costs import views

        urls = [
            path("", views.UnitCostListView.as_view(), name="unit-cost-list"),
            path("<int:stockrecord_pk>/", views.UnitCostUpdateView.as_view(), name="unit-cost-edit"),
        ]
        return self.post_process_urls(urls)
