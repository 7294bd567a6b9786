"""Running calls at the same instant, each in its own thread and database connection (PostgreSQL tests)."""

import threading

from django.db import close_old_connections, connection


def race(*calls, daemon=False):
    """Start the calls together (a barrier) and return their results, or the exception each raised."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except Exception as error:  # noqa: BLE001 - reported to the test
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call), daemon=daemon) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    close_old_connections()
    return results
