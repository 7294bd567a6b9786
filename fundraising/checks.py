"""System checks of the fundraising app (``manage.py check --deploy``)."""

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def ledger_key_check(app_configs, **kwargs):
    """The ledger's digests should have their own key, not one derived from SECRET_KEY (fundraising.models.ledger)."""
    if settings.FUNDRAISING_LEDGER_KEY:
        return []
    return [checks.Warning(
        "P6_LEDGER_KEY is not set: the ledger's digests are keyed with a key derived from SECRET_KEY",
        hint="Set P6_LEDGER_KEY (a long random string, kept off the database host) before the first sale; "
             "verify_ledger reports every transaction sealed with another key.",
        id="fundraising.W001",
    )]
