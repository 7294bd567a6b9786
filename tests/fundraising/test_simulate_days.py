"""`simulate_sales --days N` spreads the simulated orders over the last N UTC days (issue 17, item 6)."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.utils import timezone
from oscar.core.loading import get_model

from fundraising.models import Entry, LedgerTransaction
from fundraising.verification import ledger_violations
from tests.fundraising.dashboard_support import Sink

pytestmark = pytest.mark.django_db

Order = get_model("order", "Order")


def test_simulate_sales_days_3_places_orders_on_3_distinct_past_days_with_matching_postings(p6_catalogue):
    call_command("load_p6_fundraising", stdout=Sink())
    call_command("simulate_sales", orders=9, days=3, refund_rate=0.5, restock=True, stdout=Sink())
    today = timezone.now().astimezone(dt.timezone.utc).date()
    orders = list(Order.objects.order_by("id"))
    days = [order.date_placed.astimezone(dt.timezone.utc).date() for order in orders]
    # then the orders fall on today and the two days before, three each, oldest first, none in the future
    assert sorted(set(days)) == [today - dt.timedelta(days=2), today - dt.timedelta(days=1), today]
    assert [days.count(day) for day in sorted(set(days))] == [3, 3, 3]
    assert days == sorted(days) and all(order.date_placed <= timezone.now() for order in orders)
    # and each order's sale (and refund) is posted on the order's day, entries carrying the same time
    for order, day in zip(orders, days, strict=True):
        transactions = LedgerTransaction.objects.filter(order=order)
        assert transactions.filter(kind="sale").count() == 1
        for txn in transactions:
            assert txn.posted_at.astimezone(dt.timezone.utc).date() == day
            assert set(Entry.objects.filter(transaction=txn).values_list("posted_at", flat=True)) == {txn.posted_at}
    # and every past day's sale donated (the campaign rule was in force then) and the ledger verifies
    sales = LedgerTransaction.objects.filter(kind="sale")
    assert all(Entry.objects.filter(transaction=txn).exists() for txn in sales)
    assert list(ledger_violations()) == []


def test_without_days_every_order_is_placed_now(p6_catalogue):
    call_command("load_p6_fundraising", stdout=Sink())
    before = timezone.now()
    call_command("simulate_sales", orders=3, restock=True, stdout=Sink())
    assert all(order.date_placed >= before for order in Order.objects.all())


def test_days_must_be_positive(p6_catalogue):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--days must be at least 1"):
        call_command("simulate_sales", orders=1, days=0, stdout=io.StringIO())
