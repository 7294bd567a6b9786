"""Partner sales wherever staff read the ledger: the ledger's source, partner and store filters (and the downloads
that follow them), the overview's online-versus-partners split, statements, and the selector behind them."""

import datetime as dt
import re
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from fundraising import selectors
from fundraising.models import Entry, LedgerTransaction
from fundraising.services.partners import import_partner_report
from tests.fundraising.dashboard_support import money
from tests.fundraising.support import make_stockrecord, pay, place_order
from tests.partners.support import csv_bytes, row

LEDGER = reverse("fundraising-dashboard:ledger")


@pytest.fixture
def sales(partner, rules, skus, beneficiaries):
    """An online sale (9.54 USD donated) and a report: in USD a sale (36.00), a return of a quarter of it (9.00)
    and a sale with a reported cost and fee (33.00); in JPY a sale (3780). Rule: 60 %, weights 2:1:1."""
    pay(place_order((make_stockrecord("30.00", "12.00"), 1)))  # profit 30 - 12 - 2.10 = 15.90; 60 % = 9.54
    result = import_partner_report(partner=partner, file_name="week.csv", data=csv_bytes([
        row("L1", "P6-TEE", 4, "25.00", "USD", store="Berlin Mitte", country="DE"),       # 100 - 40 = 60 -> 36.00
        row("L2", "P6-TEE", -1, "25.00", "USD", store="Paris Marais", country="FR"),      # 1/4 of 36.00 = 9.00
        row("L3", "P6-HOODIE", 2, "48.00", "USD", store="New York SoHo", country="US",
            unit_cost="20.00", fee="1.00"),                                                # 96 - 40 - 1 = 55 -> 33.00
        row("L4", "P6-TEE", 3, "3500", "JPY", store="Tokyo Harajuku", country="JP"),     # 10500 - 4200 -> 3780
    ]))
    assert result.status == "posted"
    return beneficiaries


def _rows(html):
    return re.findall(r'<tr data-entry="(\d+)">', html)


def _totals(html, currency):
    found = re.search(rf'<tr data-currency="{currency}">(.*?)</tr>', html, re.S).group(1)
    return {name: value.strip() for name, value in re.findall(r'data-figure="(\w+)">([^<]*)<', found)}


def _entries(**filters):
    return set(Entry.objects.filter(**filters).values_list("id", flat=True))


def test_the_ledger_filters_by_source_partner_and_store(staff_client, sales, partner):
    partner_entries = _entries(transaction__kind__in=LedgerTransaction.PARTNER_KINDS)
    online_entries = _entries(transaction__kind="sale")
    assert (len(partner_entries), len(online_entries)) == (16, 4)

    html = staff_client.get(LEDGER, {"source": "partner"}).content.decode()
    assert set(map(int, _rows(html))) == partner_entries
    assert _totals(html, "USD") == {"count": "12", "debit": money(D("78.00")), "credit": money(D("78.00")),
                                    "net": money(D("0.00"))}
    assert _totals(html, "JPY")["debit"] == money(D("3780"), "JPY")
    assert "American Apparel · Berlin Mitte (DE) · line L1" in html

    html = staff_client.get(LEDGER, {"source": "online"}).content.decode()
    assert set(map(int, _rows(html))) == online_entries
    assert _totals(html, "USD")["debit"] == money(D("9.54"))

    html = staff_client.get(LEDGER, {"partner": partner.pk, "store": "  berlin MITTE "}).content.decode()
    assert set(map(int, _rows(html))) == _entries(transaction__partner_line__line_id="L1")

    html = staff_client.get(LEDGER, {"source": "partner", "currency": "jpy"}).content.decode()
    assert set(map(int, _rows(html))) == _entries(transaction__partner_line__line_id="L4")


def test_an_online_source_with_a_store_is_refused_and_shows_nothing(staff_client, sales):
    response = staff_client.get(LEDGER, {"source": "online", "store": "Berlin Mitte"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "Online sales have no partner or store: choose the partner source." in html
    assert _rows(html) == [] and 'id="ledger-totals"' not in html


def test_the_filtered_beancount_download_holds_the_partner_transactions_only(staff_client, sales):
    text = staff_client.get(reverse("fundraising-dashboard:ledger-beancount"),
                            {"source": "partner", "store": "Paris Marais"}).content.decode()

    [txn] = LedgerTransaction.objects.filter(partner_line__line_id="L2")
    assert re.findall(r"ledger-id: (\d+)", text) == [str(txn.pk)]
    assert 'kind: "partner_return"' in text


def _source(html, currency, key):
    table = re.search(rf'id="sources-{currency}"(.*?)</table>', html, re.S).group(1)
    found = re.search(rf'data-source="{key}"[^>]*>(.*?)</tr>', table, re.S)
    return None if found is None else dict(re.findall(r'data-figure="(\w+)">([^<]*)<', found.group(1)))


def test_the_overview_splits_online_sales_from_each_partners(staff_client, sales):
    html = staff_client.get(reverse("fundraising-dashboard:overview")).content.decode()

    usd = {"earned": money(D("69.00")), "reversed": money(D("9.00")), "net": money(D("60.00")), "units": "6 / 1"}
    assert _source(html, "USD", "online") == {"earned": money(D("9.54")), "reversed": money(D("0.00")),
                                              "net": money(D("9.54")), "units": ""}
    assert _source(html, "USD", "partner-american-apparel") == usd
    assert _source(html, "USD", "partners") == {**usd, "units": ""}
    assert _source(html, "JPY", "online")["earned"] == money(D("0"), "JPY")
    assert _source(html, "JPY", "partners")["net"] == money(D("3780"), "JPY")


def test_the_overview_has_no_partner_rows_without_partner_sales(staff_client, rules):
    pay(place_order((make_stockrecord("30.00", "12.00"), 1)))

    html = staff_client.get(reverse("fundraising-dashboard:overview")).content.decode()

    assert _source(html, "USD", "online")["earned"] == money(D("9.54"))
    assert _source(html, "USD", "partners") is None


def test_a_statement_names_each_partner_line_and_sums_the_period_by_kind(staff_client, sales):
    alpha = sales[0]  # weight 2 of 4
    today = timezone.now().date()
    statement = selectors.statement(beneficiary=alpha, currency="USD", start=today - dt.timedelta(days=1), end=today)

    assert [(line.kind, line.debit, line.credit) for line in statement.summary] == [
        ("sale", D("0.00"), D("4.77")), ("partner_sale", D("0.00"), D("34.50")),
        ("partner_return", D("4.50"), D("0.00")),
    ]
    assert (statement.total_debit, statement.total_credit, statement.closing) == (D("4.50"), D("39.27"), D("34.77"))

    html = staff_client.get(reverse("fundraising-dashboard:statement"), {
        "beneficiary": alpha.pk, "currency": "USD", "start": str(today - dt.timedelta(days=1)), "end": str(today),
    }).content.decode()
    assert "American Apparel · Paris Marais (FR) · line L2" in html
    summary = re.search(r'id="statement-summary"(.*?)</table>', html, re.S).group(1)
    assert re.search(rf'data-kind="partner_sale"><td>partner sale</td>\s*<td[^>]*></td>\s*'
                     rf'<td class="text-right" data-figure="credit">{re.escape(money(D("34.50")))}</td>', summary)


def test_partner_totals_per_partner_and_currency(sales, partner):
    usd, jpy = selectors.partner_totals(currency="usd"), selectors.partner_totals(currency="JPY")

    assert [(t.partner, t.lines, t.units_sold, t.units_returned, t.revenue_sold, t.revenue_returned, t.donated,
             t.reversed, t.net) for t in usd] == [
        (partner, 3, 6, 1, D("196.00"), D("25.00"), D("69.00"), D("9.00"), D("60.00"))]
    assert [(t.units_sold, t.donated, t.net) for t in jpy] == [(3, D("3780"), D("3780"))]
    assert [t.currency for t in selectors.partner_totals()] == ["JPY", "USD"]


def test_the_pages_make_as_many_queries_for_many_partner_lines_as_for_few(staff_client, partner, rules, skus,
                                                                           beneficiaries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.partners.support import generated_report

    today = timezone.now().date()
    pages = [
        reverse("fundraising-dashboard:overview"),
        LEDGER + "?source=partner",
        LEDGER + f"?partner={partner.pk}&store=Berlin+Mitte",
        reverse("fundraising-dashboard:statement")
        + f"?beneficiary={beneficiaries[0].pk}&currency=USD&start=2000-01-01&end={today}",
    ]

    def counts():
        out = []
        for url in pages:
            with CaptureQueriesContext(connection) as ctx:
                assert staff_client.get(url).status_code == 200
            out.append(len(ctx.captured_queries))
        return out

    report = generated_report(skus, count=60, seed=11)
    import_partner_report(partner=partner, file_name="a.csv", data=csv_bytes(report[:10]))
    few = counts()
    import_partner_report(partner=partner, file_name="b.csv", data=csv_bytes(report[10:]))
    assert counts() == few


def test_the_filtered_breakdown_download_holds_the_report_lines_shown(staff_client, sales):
    import csv
    import io

    def rows(**query):
        response = staff_client.get(reverse("fundraising-dashboard:ledger-breakdown-csv"), query)
        return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))

    paris = rows(source="partner", store="Paris Marais")
    assert [(r["order_number"], r["line_id"], r["quantity"], r["donation"], r["beneficiary_amount"], r["store"])
            for r in paris] == [("", "L2", "-1", "-9.00", amount, "Paris Marais")
                                for amount in ("-4.50", "-2.25", "-2.25")]
    everything = rows()
    assert sorted({r["line_id"] for r in everything if r["source"] == "partner"}) == ["L1", "L2", "L3", "L4"]
    assert len([r for r in everything if r["source"] == "online"]) == 3
    assert {r["source"] for r in rows(source="online")} == {"online"}
