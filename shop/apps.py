from django.apps import AppConfig


class ShopConfig(AppConfig):
    """The project itself: templates (P6 branding), the About page, the Stripe boundary."""

    name = "shop"
    verbose_name = "P6 Shop"
