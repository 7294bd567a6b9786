"""`/healthz`: can this node serve? The database, the cache and the broker, each asked once with a short
timeout. 200 when all answer, 503 naming the one that did not; never a secret (no URL, no error text).
A load balancer takes a node out of rotation on 503."""

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger("shop.jobs")

TIMEOUT_SECONDS = 2


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _cache():
    client = getattr(cache, "client", None)
    if client is not None and hasattr(client, "get_client"):
        # django-redis ignores errors on reads and writes (IGNORE_EXCEPTIONS): ask Redis itself.
        client.get_client(write=True).ping()
        return
    cache.set("healthz", "ok", 10)
    if cache.get("healthz") != "ok":
        raise RuntimeError("cache did not keep a value")


def _broker():
    if not settings.CELERY_BROKER_URL:
        return "inline"  # no broker configured: tasks run inline, nothing to reach
    from shop.celery import app

    # Bounded reads too: a Redis that accepts and never answers would otherwise hold the check forever.
    bounded = {"socket_timeout": TIMEOUT_SECONDS, "socket_connect_timeout": TIMEOUT_SECONDS}
    with app.connection_for_write(connect_timeout=TIMEOUT_SECONDS, transport_options=bounded) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=TIMEOUT_SECONDS)
        conn.default_channel.client.ping() if hasattr(conn.default_channel, "client") else None
    return "ok"


CHECKS = {"database": _database, "cache": _cache, "broker": _broker}


@never_cache
@require_GET
def healthz(request):
    results, healthy = {}, True
    for name, check in CHECKS.items():
        try:
            results[name] = check() or "ok"
        except Exception as exc:  # noqa: BLE001 — any failure is "down"; the log has the detail
            logger.warning("healthz: %s is down: %s", name, type(exc).__name__)
            results[name], healthy = "down", False
    return JsonResponse({"status": "ok" if healthy else "down", "checks": results}, status=200 if healthy else 503)
