"""Hostile input in staff views (issue 6): SQL-injection and script strings in every filter, and CSV
injection in every exported text field. Every answer is a page (200, the filter ignored or a form
error) or a 4xx, never a 500 or an echoed script; nothing is written.

Filters: the fundraising ledger (beneficiary, kind, currency, dates, order, keyset cursors), its CSV
and beancount exports and the beneficiary statement (issue 5's pages), Oscar's order and product
searches and our unit-cost search.
"""

import csv
import datetime as dt
import io
from decimal import Decimal as D

import pytest
from django.apps import apps
from django.core.management import call_command
from django.utils import timezone
from oscar.core.loading import get_model

from fundraising import services
from fundraising.models import Account, Beneficiary
from tests.fundraising import support

Order = get_model("order", "Order")
Product = get_model("catalogue", "Product")

HOSTILE = [
    "' OR '1'='1",
    "1; DROP TABLE fundraising_entry; --",
    "%' UNION SELECT password, username FROM auth_user --",
    "<script>alert('p6')</script>",
    "\"><img src=x onerror=alert('p6')>",
    "=HYPERLINK(\"http://evil.example\")",
    "9" * 40,
    "2024-13-45",
    "\x00",
]
SCRIPTS = ("<script>alert('p6')</script>", "<img src=x onerror=alert('p6')>")

FILTERS = {
    "/dashboard/fundraising/ledger/": ["beneficiary", "kind", "currency", "date_from", "date_to", "order", "after",
                                       "before"],
    "/dashboard/fundraising/ledger/export.csv": ["beneficiary", "kind", "currency", "date_from", "date_to", "order"],
    "/dashboard/fundraising/ledger/export.beancount": ["currency"],
    "/dashboard/fundraising/statement/": ["beneficiary", "start", "end"],
    "/dashboard/orders/": ["order_number", "name", "product_title", "upc", "partner_sku", "status", "date_from",
                           "date_to", "voucher", "payment_method", "response_format"],
    "/dashboard/catalogue/": ["upc", "title"],
    "/dashboard/unit-costs/": ["q"],
}


def _counts():
    models = list(apps.get_app_config("fundraising").get_models())
    models += [get_model("order", "Order"), get_model("order", "Line"), get_model("order", "OrderNote"),
               get_model("catalogue", "Product"), get_model("partner", "StockRecord")]
    return {model.__name__: model.objects.count() for model in models}


@pytest.fixture
def ledger(rule, shirt, pin):
    """A paid order, a refund, a payout and an adjustment: every kind of row the filters look at."""
    order = support.place_order((shirt, 2), (pin, 1))
    support.pay(order)
    services.post_reversal(order=order, key="refund:re_hostile", kind="refund", amount=D("12.00"))
    return order


def _content(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.parametrize("url", list(FILTERS))
def test_hostile_strings_in_every_staff_filter_are_answered_safely_and_write_nothing(staff_client, ledger, url):
    before = _counts()
    for field in FILTERS[url]:
        for value in HOSTILE:
            response = staff_client.get(url, {field: value})
            assert response.status_code in (200, 400), (url, field, value, response.status_code)
            body = _content(response).decode("utf-8", "replace")
            for script in SCRIPTS:
                assert script not in body, (url, field, value)
    assert _counts() == before


@pytest.mark.parametrize("url", ["/dashboard/orders/", "/dashboard/unit-costs/", "/dashboard/catalogue/",
                                 "/search/", "/catalogue/"])
def test_a_nul_character_in_the_query_string_is_a_400_not_a_database_error(staff_client, db, url):
    # PostgreSQL text cannot hold NUL: Oscar's order search and our unit-cost search answered 500 with it
    response = staff_client.get(url + "?q=%00&order_number=%00&name=a%00b")
    assert response.status_code == 400
    assert b"Null characters are not allowed" in response.content


def _csv_cells(text):
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def test_csv_exports_neutralise_formulas_in_every_text_field(staff_client, db, shirt, pin):
    # given beneficiaries, a payout reference and an adjustment reason that a spreadsheet would run
    formulas = ["=cmd|' /C calc'!A0", "+SUM(1,2)", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]
    beneficiaries = [Beneficiary.objects.create(name=name, slug=f"hostile-{n}", country="RU", description=name)
                     for n, name in enumerate(formulas[:4])]
    services.set_share_rule(share_bps=5000, weights=[(b, 1) for b in beneficiaries],
                            valid_from=timezone.now() - dt.timedelta(days=1))
    order = support.place_order((shirt, 4), (pin, 2))
    support.pay(order)
    services.record_disbursement(beneficiary=beneficiaries[0], amount=D("1.00"), currency="USD",
                                 paid_on=dt.date(2024, 1, 1), reference="=1+2")
    payable = Account.objects.get(kind=Account.Kind.PAYABLE, beneficiary=beneficiaries[1], currency="USD")
    donations = Account.objects.get(kind=Account.Kind.DONATIONS, currency="USD")
    for n, reason in enumerate(formulas):
        services.post_adjustment(entries=[(donations, D("0.01"), D("0")), (payable, D("0"), D("0.01"))],
                                 reason=reason, currency="USD", idempotency_key=f"adjustment:hostile-{n}")

    # when the ledger is exported, by the command and from the dashboard
    exports = {}
    for fmt in ("csv", "breakdown-csv"):
        out = io.StringIO()
        call_command("export_ledger", "--format", fmt, stdout=out)
        exports[fmt] = out.getvalue()
    exports["dashboard"] = _content(staff_client.get("/dashboard/fundraising/ledger/export.csv")).decode()

    # then the hostile texts are all there, and no cell starts with a formula character
    for name, text in exports.items():
        cells = _csv_cells(text)
        assert len(cells) > 20, name
        offending = [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
        assert offending == [], (name, offending)
    csv_cells = _csv_cells(exports["csv"])
    for text in formulas[:4]:
        assert "'" + text in csv_cells  # beneficiary names, kept readable
    assert "'=cmd|' /C calc'!A0" in _csv_cells(exports["breakdown-csv"])
    assert "'@SUM(A1)" in csv_cells and "'-2+3" in csv_cells  # adjustment memos
