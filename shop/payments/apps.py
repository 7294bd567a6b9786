from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    """Card payments through Stripe: attempts, refunds, webhook events (models) and the services that
    apply them to Oscar orders."""

    name = "shop.payments"
    label = "payments"
    verbose_name = _("Stripe payments")
