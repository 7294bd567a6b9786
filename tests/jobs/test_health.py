"""`/healthz` (shop/jobs/health.py): 200 when the database, the cache and the broker answer; without a broker
it says "inline"; 503 naming what is down once a Redis server of the test's own is stopped under the cache and
the broker, and never a URL or a secret in the body (a load balancer reads it; anyone may); a Redis that accepts
and never answers is down too, within the check's own timeout (not a hung health check)."""

import threading

import pytest
from django.core.cache import caches
from django.db import connection

from tests.background import use_broker
from tests.jobs.support import RedisServer, SilentServer, settings_with

pytestmark = pytest.mark.django_db

PASSWORD = "healthz-secret-9f3c"


def redis_cache(url):
    """The cache shop/settings.py builds from REDIS_URL (django-redis, errors ignored on reads and writes, bounded
    socket timeouts)."""
    return {"default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": url,
        "KEY_PREFIX": "p6",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2, "IGNORE_EXCEPTIONS": True},
    }}


def test_with_redis_url_set_the_settings_build_this_cache():
    url = f"redis://:{PASSWORD}@10.0.0.5:6380/2"
    assert settings_with(REDIS_URL=url)["CACHES"] == redis_cache(url)


def test_without_a_broker_the_shop_is_up_and_runs_tasks_inline(client, settings):
    settings.CELERY_BROKER_URL = ""

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok", "broker": "inline"}}
    assert response["Cache-Control"].startswith("max-age=0")


def test_with_redis_as_cache_and_broker_the_shop_is_up(client, settings, broker):
    # given the cache on Redis (settings' CACHES change resets django.core.cache.caches) and the broker
    settings.CACHES = redis_cache(broker.url)
    assert type(caches["default"]).__module__ == "django_redis.cache"

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok", "broker": "ok"}}


def test_when_redis_goes_away_the_node_says_down_naming_the_cache_and_the_broker_and_nothing_secret(
        client, settings, broker):
    with RedisServer(password=PASSWORD) as redis_server:
        # given cache and broker on a Redis server of the test's own, with a password
        settings.CACHES = redis_cache(redis_server.url)
        use_broker(redis_server.url)
        up = client.get("/healthz")
        assert (up.status_code, up.json()["status"]) == (200, "ok")

        # when that server stops
        redis_server.stop()
        response = client.get("/healthz")

    # then the node answers 503, naming the two that are down, and nothing of where they are or how to log in
    assert response.status_code == 503
    assert response.json() == {"status": "down", "checks": {"database": "ok", "cache": "down", "broker": "down"}}
    body = response.content.decode()
    assert all(secret not in body for secret in (PASSWORD, "redis", "127.0.0.1", str(redis_server.port)))


def test_a_redis_that_accepts_and_never_answers_is_down_within_the_checks_bound(client, settings, broker):
    # given cache and broker on a server that accepts connections and never answers (a hung Redis)
    with SilentServer() as hung:
        settings.CACHES = redis_cache(f"redis://127.0.0.1:{hung.port}/0")
        use_broker(f"redis://127.0.0.1:{hung.port}/0")

        # when a load balancer asks (in a thread: a check that hangs must fail the test, not stall it)
        answers = []
        asking = threading.Thread(target=lambda: answers.append(_get_healthz(client)), daemon=True)
        asking.start()
        asking.join(timeout=60)

    # then the node answers, 503, naming the two
    assert not asking.is_alive(), "/healthz hung on a Redis that never answers"
    [(status, body)] = answers
    assert (status, body) == (503, {"status": "down", "checks": {"database": "ok", "cache": "down", "broker": "down"}})


def _get_healthz(client):
    try:
        response = client.get("/healthz")
        return response.status_code, response.json()
    finally:
        connection.close()


def test_a_post_is_refused(client):
    assert client.post("/healthz").status_code == 405
