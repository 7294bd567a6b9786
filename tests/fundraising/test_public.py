"""The public transparency page and its JSON: ledger figures, no personal data (issue 5)."""

import json
import re
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from oscar.core.loading import get_model

from fundraising import selectors, services
from fundraising.models import Beneficiary, CampaignGoal, LedgerTransaction, OrderLineBreakdown
from tests.fundraising.dashboard_support import figure, load_sales, money

pytestmark = pytest.mark.django_db

Order = get_model("order", "Order")


@pytest.fixture
def sales(p6_catalogue):
    load_sales(10, refund_rate=0.4)
    services.record_disbursement(beneficiary=Beneficiary.objects.get(slug="sphere-foundation"), amount=D("12.34"),
                                 currency="USD", paid_on=timezone.now().date(), reference="wire-1")


def _json(client):
    response = client.get(reverse("fundraising:totals-json"))
    assert response.status_code == 200
    return response, json.loads(response.content)


def test_the_json_equals_the_ledger_balances(client, sales):
    # given the ledger's balances
    # (the demo's groups are aliased: the JSON keys them by their public names' slugs, group-a…)
    balances = {row.beneficiary.public_key: row for row in selectors.beneficiary_balances(currency="USD")}
    assert set(balances) == {"group-a", "group-b", "group-c"}
    # when anyone reads the JSON
    response, data = _json(client)
    # then every figure is the ledger's, as exact decimal strings
    assert response["Content-Type"] == "application/json"
    assert "public" in response["Cache-Control"] and "max-age=60" in response["Cache-Control"]
    [usd] = data["currencies"]
    assert usd["currency"] == "USD"
    for item in usd["beneficiaries"]:
        row = balances[item["slug"]]
        assert D(item["raised"]) == row.earned
        assert D(item["reversed"]) == row.reversed
        assert D(item["net_raised"]) == row.earned - row.reversed
        assert D(item["disbursed"]) == row.disbursed
        assert D(item["payable"]) == row.payable
    assert {item["slug"] for item in usd["beneficiaries"]} == set(balances)
    assert D(usd["raised"]) == sum(row.earned for row in balances.values())
    assert D(usd["reversed"]) == sum(row.reversed for row in balances.values()) > 0
    assert D(usd["disbursed"]) == D("12.34")
    assert D(usd["payable"]) == sum(row.payable for row in balances.values())
    assert usd["items_sold"] == sum(b.quantity for b in OrderLineBreakdown.objects.filter(completed_at__isnull=False))
    last = LedgerTransaction.objects.order_by("-posted_at").first().posted_at
    assert data["last_updated"] == last.isoformat()
    assert usd["goal"] is None and usd["goal_progress_percent"] is None


def test_the_json_shows_progress_towards_the_goal(client, sales):
    CampaignGoal.objects.create(currency="USD", amount=D("1000.00"))
    _, data = _json(client)
    [usd] = data["currencies"]
    assert usd["goal"] == "1000.00"
    assert D(usd["goal_progress_percent"]) == (D(usd["net_raised"]) / D("1000.00") * 100).quantize(D("0.1"))


PERSONAL_KEYS = {"email", "first_name", "last_name", "address", "line1", "postcode", "phone", "number", "order",
                 "user", "username", "customer", "reference", "memo", "ip"}


def _keys(value):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from _keys(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _keys(inner)


def test_the_json_carries_no_personal_data(client, sales):
    # given orders by fans with emails, names, addresses and order numbers
    _, data = _json(client)
    body = json.dumps(data)
    # then no key is a personal field and no value carries any of it
    assert not set(_keys(data)) & PERSONAL_KEYS
    assert "@" not in body
    for order in Order.objects.select_related("shipping_address"):
        assert order.number not in body
        assert order.shipping_address.line1 not in body and order.shipping_address.last_name not in body
    assert "wire-1" not in body and "sim_" not in body


def test_the_page_shows_the_same_figures_without_personal_data(client, sales):
    CampaignGoal.objects.create(currency="USD", amount=D("1000.00"))
    _, data = _json(client)
    [usd] = data["currencies"]
    html = client.get(reverse("fundraising:transparency")).content.decode()
    for item in usd["beneficiaries"]:
        assert figure(html, item["slug"], "net_raised") == money(D(item["net_raised"]))
        assert figure(html, item["slug"], "disbursed") == money(D(item["disbursed"]))
        assert figure(html, item["slug"], "payable") == money(D(item["payable"]))
    section = html.split('id="totals-USD"')[1]
    assert re.search(rf'data-figure="net_raised">{re.escape(money(D(usd["net_raised"])))}<', section)
    assert re.search(rf'data-figure="items_sold">{usd["items_sold"]}<', section)
    assert f'{usd["goal_progress_percent"]} % reached' in " ".join(html.split())
    assert "@example.org" not in html
    for order in Order.objects.all():
        assert order.number not in html


def test_an_empty_ledger_has_an_empty_page(client, db):
    _, data = _json(client)
    assert data["currencies"] == [] and data["last_updated"] is None
    assert client.get(reverse("fundraising:transparency")).status_code == 200


def test_public_query_counts_do_not_grow(client, p6_catalogue):
    def count(url):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    urls = [reverse("fundraising:transparency"), reverse("fundraising:totals-json")]
    load_sales(2)
    small = [count(url) for url in urls]
    for i in range(4):
        Beneficiary.objects.create(name=f"Group {i}", slug=f"group-{i}", country="RU")
    services.set_share_rule(share_bps=5000, weights=[(b, 1) for b in Beneficiary.objects.all()])
    from django.core.management import call_command

    from tests.fundraising.dashboard_support import Sink

    call_command("simulate_sales", orders=12, refund_rate=0.5, seed=9, restock=True, stdout=Sink())
    assert [count(url) for url in urls] == small
