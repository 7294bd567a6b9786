"""simulate_sales places and pays orders through the storefront's services (issue #4)."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from oscar.core.loading import get_model

from shop.payments.models import StripeRefund

Order = get_model("order", "Order")
Source = get_model("payment", "Source")

pytestmark = pytest.mark.django_db


def _simulate(*args):
    out = StringIO()
    call_command("simulate_sales", *args, stdout=out)
    return out.getvalue()


def _fingerprint():
    return [
        (order.status, str(order.total_incl_tax), [(line.partner_sku, line.quantity) for line in order.lines.all()])
        for order in Order.objects.order_by("pk")
    ]


def test_simulated_orders_are_real_paid_orders_marked_simulated(p6_catalogue):
    # when 12 orders are simulated
    output = _simulate("--orders", "12", "--seed", "7")
    # then there are 12 paid orders, each paid by one simulated source for its total
    assert Order.objects.count() == 12
    assert set(Order.objects.values_list("status", flat=True)) == {"Paid"}
    for order in Order.objects.all():
        source = Source.objects.get(order=order)
        assert source.source_type.code == "simulated"
        assert source.reference == f"sim_pi_{order.number}"
        assert source.amount_debited == order.total_incl_tax
    assert output.startswith("simulated 12 paid orders (0 refunded")


def test_the_same_seed_makes_the_same_sales(p6_catalogue):
    # given 8 orders simulated with seed 42
    _simulate("--orders", "8", "--seed", "42", "--refund-rate", "0.5")
    first = _fingerprint()
    refunds = sorted((str(r.amount), r.status) for r in StripeRefund.objects.all())
    assert len(first) == 8
    assert refunds and all(status == "succeeded" for _, status in refunds)
    totals = sorted(total for _, total, _ in first)
    # when the same seed runs again (stock is plentiful, so it makes the same choices)
    _simulate("--orders", "8", "--seed", "42", "--refund-rate", "0.5")
    second = _fingerprint()[8:]
    # then it placed the same baskets
    assert sorted(total for _, total, _ in second) == totals
    assert [lines for _, _, lines in second] == [lines for _, _, lines in first]


def test_refunded_simulated_orders_are_recorded_once_each(p6_catalogue):
    _simulate("--orders", "20", "--seed", "3", "--refund-rate", "1")
    assert StripeRefund.objects.count() == 20
    assert StripeRefund.objects.filter(status="succeeded", refund_id__startswith="sim_re_").count() == 20
    for order in Order.objects.all():
        refunded = sum((r.amount for r in order.stripe_refunds.all()), Decimal("0"))
        source = Source.objects.get(order=order)
        assert source.amount_refunded == refunded <= order.total_incl_tax


@pytest.mark.parametrize("args, message", [
    (["--orders", "0"], "--orders must be at least 1"),
    (["--orders", "3", "--refund-rate", "1.5"], "--refund-rate must be between 0 and 1"),
    (["--orders", "3", "--max-lines", "0"], "--max-lines must be at least 1"),
])
def test_bad_arguments_are_refused_and_nothing_is_written(p6_catalogue, args, message):
    with pytest.raises(CommandError, match=message):
        _simulate(*args)
    assert Order.objects.count() == 0


def test_an_empty_catalogue_is_refused(db):
    with pytest.raises(CommandError, match="the catalogue is empty"):
        _simulate("--orders", "1")
