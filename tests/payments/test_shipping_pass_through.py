"""Shipping and tax are pass-through (issue 16, item 4; DESIGN profit rule): an order with shipping, or with tax on its
lines, is promised and posts the very donation of the same lines shipped free and untaxed, to the cent, paid through
localstripe (fee from the schedule, on the goods alone: fundraising/fees.py). The rates are those of
tests/shop/test_shipping.py."""

from decimal import Decimal

import pytest
from django.test import TestCase
from django.urls import reverse
from oscar.core.loading import get_model

from oscar.apps.partner.strategy import FixedRateTax

from fundraising.models import Entry, LedgerTransaction, OrderLineBreakdown
from shop.checkout import orders
from shop.partner import strategy
from tests.shop.test_shipping import shown_rates, to_shipping_method

Order = get_model("order", "Order")

pytestmark = pytest.mark.django_db



def place_and_pay(client, skus, country):
    response = to_shipping_method(client, skus, country)
    if response.status_code == 200:  # a charged rate, shown: the fan selects it
        code, _ = shown_rates(response)[0]
        assert client.post(reverse("checkout:shipping-method"), {"method_code": code}).status_code == 302
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(reverse("checkout:preview"), {"action": "place_order"})
    assert response.status_code == 302, response.content[:2000]
    order = Order.objects.order_by("-pk").first()
    promise = orders.expected_donation(order)
    response = client.post(reverse("checkout:pay", kwargs={"order_number": order.number}),
                           {"payment_method": "pm_card_visa"})
    assert response.status_code == 302
    order.refresh_from_db()
    return order, promise


def posted(order):
    sale = LedgerTransaction.objects.get(idempotency_key=f"sale:{order.number}")
    rows = {b.line.partner_sku: (b.revenue_excl_tax, b.fee_share, b.profit, b.donation)
            for b in OrderLineBreakdown.objects.filter(order=order).select_related("line")}
    return rows, Entry.objects.get(transaction=sale, debit__gt=0).debit


def test_an_order_with_shipping_gives_the_donation_of_the_same_order_without(
        client, p6_catalogue, campaign, stripe_peer, settings):
    skus = (("P6-TEE-BLK-M", 2), ("P6-TOTE", 1))
    # given the order shipped free (80.00 paid) ...
    free, free_promise = place_and_pay(client, skus, "US")
    assert (free.shipping_incl_tax, free.total_incl_tax) == (Decimal("0.00"), Decimal("80.00"))
    # ... and the same lines shipped to the US at 8.00 (0.550 kg), 88.00 paid, by another fan
    settings.SHOP_FREE_SHIPPING_OVER = "100.00"
    other = type(client)()
    shipped, shipped_promise = place_and_pay(other, skus, "US")
    assert (shipped.shipping_incl_tax, shipped.shipping_excl_tax, shipped.total_incl_tax) == (
        Decimal("8.00"), Decimal("8.00"), Decimal("88.00"))
    assert shipped.status == free.status == "Paid"
    # then the promise at placement and the posting are those of the free order, to the cent: the fee counted
    # is the schedule's on the goods (80.00 x 2.9 % + 0.30 = 2.62), pro-rata 1.97 / 0.65; revenue excl.
    # shipping; 35.03 and 13.35 profit; 17.52 + 6.68 = 24.20 donated
    expected = {"P6-TEE-BLK-M": (Decimal("60.00"), Decimal("1.97"), Decimal("35.03"), Decimal("17.52")),
                "P6-TOTE": (Decimal("20.00"), Decimal("0.65"), Decimal("13.35"), Decimal("6.68"))}
    assert posted(free) == posted(shipped) == (expected, Decimal("24.20"))
    assert free_promise.amount == shipped_promise.amount == Decimal("24.20")


class TaxAdded(strategy.P6Strategy):
    """The shop's strategy with a 20 % tax added to every price (Oscar's FixedRateTax), as a shop charging tax
    on top of its prices would: the order then carries tax on every line."""

    def pricing_policy(self, product, stockrecord):
        return FixedRateTax.pricing_policy(self, product, stockrecord)

    def parent_pricing_policy(self, product, children_stock):
        return FixedRateTax.parent_pricing_policy(self, product, children_stock)

    def get_rate(self, product, stockrecord):
        return Decimal("0.20")

    def get_exponent(self, stockrecord):
        return Decimal("0.01")


def test_tax_passes_through_like_shipping_revenue_excludes_it_and_the_fee_on_it(
        client, p6_catalogue, campaign, stripe_peer, settings, monkeypatch):
    skus = (("P6-TEE-BLK-M", 2), ("P6-TOTE", 1))
    # given the order untaxed and shipped free (80.00 paid) ...
    plain, plain_promise = place_and_pay(client, skus, "US")
    # ... and the same lines with 20 % tax on top and 8.00 shipping: 80.00 + 16.00 tax + 8.00 = 104.00 paid
    monkeypatch.setattr(strategy.Selector, "strategy", lambda self, request=None, user=None, **kw: TaxAdded(request))
    settings.SHOP_FREE_SHIPPING_OVER = "200.00"
    other = type(client)()
    taxed, taxed_promise = place_and_pay(other, skus, "US")
    assert (taxed.total_excl_tax, taxed.total_tax, taxed.shipping_incl_tax, taxed.total_incl_tax) == (
        Decimal("88.00"), Decimal("16.00"), Decimal("8.00"), Decimal("104.00"))
    assert taxed.status == plain.status == "Paid"
    assert [line.line_price_incl_tax for line in taxed.lines.order_by("pk")] == [Decimal("72.00"), Decimal("24.00")]
    # then the revenue is the lines' excluding tax, the fee is the schedule's on the goods alone (not on 104.00:
    # 3.32), and the promise and the posting are the untaxed, unshipped order's, to the cent: 24.20
    expected = {"P6-TEE-BLK-M": (Decimal("60.00"), Decimal("1.97"), Decimal("35.03"), Decimal("17.52")),
                "P6-TOTE": (Decimal("20.00"), Decimal("0.65"), Decimal("13.35"), Decimal("6.68"))}
    assert posted(plain) == posted(taxed) == (expected, Decimal("24.20"))
    assert plain_promise.amount == taxed_promise.amount == Decimal("24.20")

