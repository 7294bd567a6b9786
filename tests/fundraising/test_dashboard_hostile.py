"""Hostile strings in the fundraising dashboard's filters: a page or a 4xx, never a 500 or an echoed script."""

import pytest

from fundraising.models import Disbursement, Entry, LedgerTransaction
from tests.fundraising.dashboard_support import load_sales

pytestmark = pytest.mark.django_db

HOSTILE = ["' OR '1'='1", "<script>alert('p6')</script>", "=HYPERLINK(\"x\")", "9" * 40, "-5", "2024-13-45", "\x00"]
FILTERS = {
    "/dashboard/fundraising/ledger/": ["beneficiary", "kind", "currency", "date_from", "date_to", "order", "after",
                                       "before"],
    "/dashboard/fundraising/ledger/export.csv": ["beneficiary", "kind", "currency", "date_from", "date_to", "order"],
    "/dashboard/fundraising/ledger/export.beancount": ["beneficiary", "kind", "currency", "date_from", "date_to",
                                                       "order"],
    "/dashboard/fundraising/ledger/breakdown.csv": ["beneficiary", "kind", "currency", "date_from", "date_to", "order"],
    "/dashboard/fundraising/statement/": ["beneficiary", "start", "end", "currency"],
}


def test_hostile_filter_values_are_answered_safely_and_write_nothing(staff_client, p6_catalogue):
    # given a ledger with sales and refunds
    load_sales(2, refund_rate=1)
    before = (Entry.objects.count(), LedgerTransaction.objects.count(), Disbursement.objects.count())
    for url, fields in FILTERS.items():
        for field in fields:
            for value in HOSTILE:
                # when staff (or a forged link) send a hostile value
                response = staff_client.get(url, {field: value})
                # then the answer is a page, without the script, and nothing is written
                assert response.status_code in (200, 400), (url, field, value)
                body = b"".join(response.streaming_content) if response.streaming else response.content
                assert b"<script>alert" not in body
    assert (Entry.objects.count(), LedgerTransaction.objects.count(), Disbursement.objects.count()) == before
