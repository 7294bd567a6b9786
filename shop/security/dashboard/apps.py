from django.urls import path
from oscar.core.application import OscarDashboardConfig


class SecurityDashboardConfig(OscarDashboardConfig):
    """Staff pages of shop.security: the Content-Security-Policy violations browsers reported."""

    name = "shop.security.dashboard"
    label = "security_dashboard"
    namespace = "security-dashboard"
    default_permissions = ["is_staff"]

    def get_urls(self):
        from shop.security.dashboard import views

        return self.post_process_urls([
            path("csp-violations/", views.ViolationListView.as_view(), name="csp-violations"),
        ])
