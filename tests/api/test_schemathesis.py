"""Our endpoints against their OpenAPI description (/api/p6/schema/): no 5xx, no schema violation.

Bounded: a few examples per operation, no deadline (the first request of a test warms Django up).
Run with the P6 catalogue and campaign loaded, so the product and totals answers carry real figures.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shop.wsgi import application

pytestmark = pytest.mark.django_db

schema = schemathesis.openapi.from_wsgi("/api/p6/schema/", application)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def loaded(p6_catalogue, campaign):
    # Schemathesis calls the WSGI app itself, not through Django's test client, so Django's end-of-request
    # handler would close the connection that holds the test's transaction (on PostgreSQL: "the connection
    # is closed"). Django's test client disconnects it the same way.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield p6_catalogue
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_our_endpoints_match_their_schema(case, loaded):
    case.call_and_validate(checks=CHECKS)


def test_the_schema_describes_our_four_operations(client):
    body = client.get("/api/p6/schema/").json()
    assert body["openapi"] == "3.0.3"
    assert sorted(body["paths"]) == [
        "/api/p6/orders/{number}/donation/", "/api/p6/orders/{number}/pay/",
        "/api/p6/products/{pk}/donation/", "/api/p6/totals/",
    ]
