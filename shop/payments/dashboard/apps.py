from django.urls import path
from django.utils.translation import gettext_lazy as _
from oscar.core.application import OscarDashboardConfig


class PaymentsDashboardConfig(OscarDashboardConfig):
    """Refunds from the dashboard's order page, the list of excess payments and the Stripe events received
    (Oscar's dashboard itself is never forked)."""

    label = "payments_dashboard"
    name = "shop.payments.dashboard"
    namespace = "payments-dashboard"
    verbose_name = _("Payments dashboard")
    default_permissions = ["is_staff", "order.change_order"]
    permissions_map = {"order-refund": (["is_staff", "order.change_order"],),
                       "excess-list": (["is_staff", "order.change_order"],),
                       "order-cancel": (["is_staff", "order.change_order"],),
                       "webhook-events": (["is_staff", "order.change_order"],),
                       "webhook-event": (["is_staff", "order.change_order"],),
                       "email-list": (["is_staff", "order.change_order"],),
                       "email-send-again": (["is_staff", "order.change_order"],),
                       "job-runs": (["is_staff"],)}

    def get_urls(self):
        from shop.jobs import dashboard as jobs
        from shop.payments.dashboard import views

        return self.post_process_urls([
            path("orders/<str:number>/refund/", views.RefundView.as_view(), name="order-refund"),
            path("excess-payments/", views.ExcessPaymentListView.as_view(), name="excess-list"),
            path("orders/<str:number>/cancel/", views.CancelUnpaidOrderView.as_view(), name="order-cancel"),
            path("webhook-events/", views.WebhookEventListView.as_view(), name="webhook-events"),
            path("webhook-events/<int:pk>/", views.WebhookEventDetailView.as_view(), name="webhook-event"),
            # Background work's own pages (shop.jobs has no dashboard app of its own).
            path("emails/", jobs.EmailListView.as_view(), name="email-list"),
            path("emails/<int:pk>/send-again/", jobs.EmailSendAgainView.as_view(), name="email-send-again"),
            path("jobs/", jobs.JobRunListView.as_view(), name="job-runs"),
        ])
