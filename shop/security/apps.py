from django.apps import AppConfig


class SecurityConfig(AppConfig):
    """The payment page's lock-down (issue 18): the Content-Security-Policy and the other security headers
    (shop.security.headers), the violation reports browsers send and their alerts (shop.security.reports)."""

    name = "shop.security"
    label = "security"
    verbose_name = "Security"
    default_auto_field = "django.db.models.BigAutoField"
