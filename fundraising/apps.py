from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.utils.translation import gettext_lazy as _


class FundraisingConfig(AppConfig):
    """Beneficiaries, share rules, profit allocation, the donation ledger and its reports."""

    name = "fundraising"
    verbose_name = _("Fundraising")

    def ready(self):
        from fundraising.db import register_sqlite_functions

        # The SQLite append-only triggers call this function; see fundraising.db for why.
        connection_created.connect(register_sqlite_functions, dispatch_uid="fundraising-sqlite-functions")
