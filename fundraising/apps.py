from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FundraisingConfig(AppConfig):
    """Beneficiaries, share rules, profit allocation, the donation ledger and its reports."""

    name = "fundraising"
    verbose_name = _("Fundraising")

    def ready(self):
        from fundraising import checks  # noqa: F401  (registers the system checks)
