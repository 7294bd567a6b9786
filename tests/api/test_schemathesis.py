"""All of /api/ against its generated OpenAPI schema (/api/schema/): no 5xx, no schema violation.

Every operation of the schema, twice: anonymously (schemathesis makes up credentials and sessions) and as a
customer with an order (Basic auth), so the answers only an owner gets are checked too.

Bounded and deterministic: a fixed seed, derandomized, MAX_EXAMPLES generated cases per operation (positive and
negative) plus the schema's examples; the coverage phase (every boundary and every wrong type of every field,
hundreds of cases for a large body) only for our own operations under /api/p6/. No deadline: the first request
of a test warms Django up. About 60 operations x 2 runs take ~15 s on 2 cores, after the test database exists.
Schemathesis leaves out the schema document's own operation (GET /api/schema/); test_schema.py reads it.
"""

from io import StringIO

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shop.wsgi import application
from tests.api.conftest import api_place_order

pytestmark = pytest.mark.django_db

SCHEMA = "/api/schema/?format=json"
MAX_EXAMPLES = 10
CUSTOMER, PASSWORD = "schema-fan", "schema-fan-pass-123"
BOUNDS = {
    "seed": 6,
    "generation": {"max-examples": MAX_EXAMPLES},
    "phases": {"coverage": {"enabled": False}},
    "operations": [{"include-path-regex": "^/api/p6/", "phases": {"coverage": {"enabled": True}}}],
}

anonymous = schemathesis.openapi.from_wsgi(SCHEMA, application, config=SchemathesisConfig.from_dict(BOUNDS))
as_customer = schemathesis.openapi.from_wsgi(SCHEMA, application, config=SchemathesisConfig.from_dict(
    {**BOUNDS, "auth": {"basic": {"username": CUSTOMER, "password": PASSWORD}}}))

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
BOUNDED = settings(deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                          HealthCheck.filter_too_much])


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The P6 catalogue and campaign (so product and totals answers carry real figures) and a customer with an
    order placed over the API (so /api/orders/ has one to answer with): written once for the module's tests, in
    a transaction rolled back after them; each test runs in a savepoint inside it."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("load_p6_catalogue", stdout=StringIO())
        call_command("load_p6_fundraising", stdout=StringIO())
        user = get_user_model().objects.create_user(username=CUSTOMER, email="schema-fan@example.org",
                                                    password=PASSWORD)
        client = Client()
        client.force_login(user)
        api_place_order(client)
        # Schemathesis calls the WSGI app itself, not through Django's test client, so Django's end-of-request
        # handler would close the connection that holds the transaction (on PostgreSQL: "the connection is
        # closed"). Django's test client disconnects it the same way, around each of its requests (and
        # connects it again after: hence here, after the client's last request).
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            yield
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)
        transaction.set_rollback(True)


@anonymous.parametrize()
@BOUNDED
def test_the_api_matches_its_schema(case, world):
    case.call_and_validate(checks=CHECKS)


@as_customer.parametrize()
@BOUNDED
def test_the_api_matches_its_schema_for_a_customer(case, world):
    case.call_and_validate(checks=CHECKS)

