"""Django's ``flush``, able to empty the append-only ledger tables on SQLite.

PostgreSQL flushes with TRUNCATE, which fires no row trigger; SQLite flushes with DELETE, which the
ledger's append-only triggers refuse unless ``fundraising.db.flushing`` is active on the connection.
pytest-django's ``transaction=True`` tests call this command after each test, so overriding it keeps
them working without weakening the triggers for anything else. Same options and behaviour as Django's.
"""

from django.core.management.commands import flush
from django.db import DEFAULT_DB_ALIAS, connections

from fundraising.db import flushing


class Command(flush.Command):
    def handle(self, **options):
        with flushing(connections[options.get("database") or DEFAULT_DB_ALIAS]):
            return super().handle(**options)
