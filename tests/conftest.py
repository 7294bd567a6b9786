import os

import pytest
from django.core.management import call_command
from oscar.core.loading import get_model

from tests.markers import Sink

StockRecord = get_model("partner", "StockRecord")


def pytest_report_header(config):
    from django.db import connection

    return f"database: {connection.vendor}"


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: a page cached by an earlier test (whose rows were rolled back,
    its catalogue stamp with them) must not be served to the next."""
    from django.core.cache import caches

    for alias in caches:
        caches[alias].clear()
    yield


# The same for the shop served by gunicorn in a subprocess (tests/live_server.py passes the environment on).
os.environ.setdefault("SHOP_FREE_SHIPPING_OVER", "0.00")


@pytest.fixture(autouse=True)
def _free_shipping(settings):
    """Free shipping for every basket unless a test asks for the seeded rates (tests/shop/test_shipping.py):
    the existing tests' exact totals and donations assume none. Read at call time by shop/shipping.py."""
    settings.SHOP_FREE_SHIPPING_OVER = "0.00"


@pytest.fixture
def p6_catalogue(db):
    """The seeded P6 catalogue, as `scripts/run` loads it."""
    call_command("load_p6_catalogue", stdout=Sink())
    return StockRecord.objects.select_related("product", "unit_cost")


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        username="staff", email="staff@example.org", password="staff-pass-123", is_staff=True,
        is_superuser=True,
    )


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client



@pytest.fixture
def broker(settings):
    """Tasks go to a Redis database of this run's own (emptied before and after) instead of running inline.
    The database number comes from the process id, so two test runs on one machine rarely share one."""
    import os

    from tests.background import Broker, use_broker

    redis_broker = Broker(1 + os.getpid() % 15)
    redis_broker.flush()
    # Through the settings fixture first: use_broker's own writes then land in this override, which the fixture
    # undoes after the test whatever the test overrides on top (written to the base settings, the URL outlived
    # the test whenever the test overrode a setting too, and later tests sent their work to a broker).
    settings.CELERY_BROKER_URL = redis_broker.url
    use_broker(redis_broker.url)
    yield redis_broker
    use_broker("")
    redis_broker.flush()
