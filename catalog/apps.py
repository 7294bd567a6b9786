from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    """The P6 catalogue: unit costs of stock records and the seeding command."""

    name = "catalog"
    verbose_name = _("P6 catalogue")
