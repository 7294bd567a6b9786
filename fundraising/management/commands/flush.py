"""Django's ``flush``, able to empty the append-only ledger tables on SQLite.

PostgreSQL flushes with TRUNCATE, which fires no row trigger; SQLite flushes with DELETE, which the ledger's
append-only triggers refuse. This override lifts those DELETE triggers for its own DELETEs and re-creates them, in
one transaction (``fundraising.db.delete_triggers_lifted``). pytest-django's ``transaction=True`` tests call this
command after each test, so overriding it keeps them working without weakening the triggers for anything else.
Same options and behaviour as Django's.
"""

from django.core.management.commands import flush
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from fundraising.db import delete_triggers_lifted


class Command(flush.Command):
    def handle(self, **options):
        database = options.get("database") or DEFAULT_DB_ALIAS
        with transaction.atomic(using=database), delete_triggers_lifted(connections[database]):
            return super().handle(**options)
