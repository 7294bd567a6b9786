"""What several test folders share: the PostgreSQL-only mark and a stdout that swallows a command's output."""

import pytest
from django.db import connection

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="PostgreSQL only (set DATABASE_URL=postgres://...): row locks, deferred triggers, real concurrent "
           "connections, or committed data shared with gunicorn or a subprocess",
)


class Sink:
    """A stdout for call_command that keeps nothing."""

    def write(self, *args, **kwargs):
        pass

    def flush(self):
        pass
