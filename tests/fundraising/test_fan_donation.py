"""Fans see what their purchase gives: before paying (product, basket, preview) and after (issue 5)."""

from decimal import ROUND_HALF_UP, Decimal as D

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from fundraising.chain import receipt_code
from oscar.core.loading import get_model

from fundraising.models import OrderLineBreakdown
from fundraising.money import Fee
from shop.checkout.placement import build_basket, place_pending_order
from shop.payments import services as payments
from shop.payments.gateway import PaymentIntent
from tests.fundraising.dashboard_support import make_user, money

pytestmark = pytest.mark.django_db

Product = get_model("catalogue", "Product")
StockRecord = get_model("partner", "StockRecord")
CENT = D("0.01")
ADDRESS = {"first_name": "Ana", "last_name": "Fan", "line1": "1 Main St", "line4": "Boston", "state": "MA",
           "postcode": "02110", "country": "US"}


@pytest.fixture
def campaign(p6_catalogue):
    from django.core.management import call_command

    from tests.fundraising.dashboard_support import Sink

    call_command("load_p6_fundraising", stdout=Sink())


def expected_donation(revenue, cost, *, fee_basis=None):
    """From first principles: fee 2.9 % + 0.30 on what is paid, rounded half-up; 50 % of the profit, half-up."""
    fee = ((fee_basis if fee_basis is not None else revenue) * D("0.029") + D("0.30")).quantize(CENT, ROUND_HALF_UP)
    profit = max(D(0), revenue - cost - fee)
    return (profit * D("0.5")).quantize(CENT, ROUND_HALF_UP)


def tee():
    return Product.objects.get(title="P6 Unisex T-shirt", parent__isnull=True)


def test_the_product_page_says_what_one_t_shirt_gives(client, campaign):
    # given the seeded T-shirt: price 30.00, unit cost 11.50, the 50 % rule, fee 2.9 % + 0.30
    # fee = 30.00 × 0.029 + 0.30 = 1.17; profit = 30.00 − 11.50 − 1.17 = 17.33; 50 % = 8.665 → 8.67
    assert expected_donation(D("30.00"), D("11.50")) == D("8.67")
    # (XXL is dearer: 32.00, cost 12.75, so the parent page says "from" its cheapest variant's figure)
    assert expected_donation(D("32.00"), D("12.75")) == D("9.01")
    # when a fan opens its page
    html = client.get(tee().get_absolute_url()).content.decode()
    # then the page says 50 % and from about $8.67 per item
    assert ("50% of the profit on this item goes to Russian LGBT groups — from about $8.67 per item."
            in " ".join(html.split()))


def test_a_t_shirt_variant_page_says_exactly_what_one_gives(client, campaign):
    # given the black T-shirt in M: 30.00, cost 11.50 → fee 1.17, profit 17.33, 50 % = 8.665 → 8.67
    variant = StockRecord.objects.get(partner_sku="P6-TEE-BLK-M").product
    html = " ".join(client.get(variant.get_absolute_url()).content.decode().split())
    assert "50% of the profit on this item goes to Russian LGBT groups — about $8.67 per item." in html


def test_every_product_page_gives_the_figure_of_its_cheapest_variant(client, campaign):
    for product in Product.objects.filter(parent__isnull=True):
        records = (StockRecord.objects.filter(product__parent=product) if product.is_parent
                   else product.stockrecords.all())
        figures = {expected_donation(r.price, r.unit_cost.amount) for r in records.select_related("unit_cost")}
        html = " ".join(client.get(product.get_absolute_url()).content.decode().split())
        cheapest = min(records, key=lambda r: (r.price, r.pk))
        expected = expected_donation(cheapest.price, cheapest.unit_cost.amount)
        wording = "from about" if len(figures) > 1 else "about"
        assert f"{wording} {money(expected)} per item" in html, product.title


def test_without_a_rule_in_force_the_product_page_promises_nothing(client, p6_catalogue):
    html = client.get(tee().get_absolute_url()).content.decode()
    assert 'id="p6-donation"' not in html


def _add(client, sku, quantity):
    record = StockRecord.objects.select_related("product").get(partner_sku=sku)
    product = record.product
    data = {"quantity": quantity, "child_id": product.pk}
    assert client.post(reverse("basket:add", kwargs={"pk": product.parent_id}), data).status_code == 302
    return record


def test_the_basket_shows_its_expected_donation(client, campaign):
    # given two T-shirts and a tote bag in the basket
    shirt = _add(client, "P6-TEE-BLK-M", 2)
    tote = StockRecord.objects.select_related("product", "unit_cost").get(partner_sku__startswith="P6-TOTE")
    assert client.post(reverse("basket:add", kwargs={"pk": tote.product.pk}), {"quantity": 1}).status_code == 302
    # when the fan opens the basket
    html = " ".join(client.get(reverse("basket:summary")).content.decode().split())
    # then the expected donation: the fee on the basket total split pro-rata, each line's profit × 50 %
    total = shirt.price * 2 + tote.price
    fee = (total * D("0.029") + D("0.30")).quantize(CENT, ROUND_HALF_UP)
    fee_shirts = (fee * shirt.price * 2 / total).quantize(CENT, ROUND_HALF_UP)
    fee_tote = fee - fee_shirts
    donation = (
        ((shirt.price * 2 - D("11.50") * 2 - fee_shirts) * D("0.5")).quantize(CENT, ROUND_HALF_UP)
        + ((tote.price - tote.unit_cost.amount - fee_tote) * D("0.5")).quantize(CENT, ROUND_HALF_UP)
    )
    assert f"Expected donation to Russian LGBT groups from this order: about {money(donation)}" in html


def test_the_checkout_preview_shows_the_expected_donation_of_the_order(client, campaign):
    _add(client, "P6-TEE-BLK-M", 1)
    client.post(reverse("checkout:index"), {"username": "fan@example.org", "options": "anonymous"})
    client.post(reverse("checkout:shipping-address"), {**ADDRESS})
    client.get(reverse("checkout:shipping-method"))
    response = client.get(reverse("checkout:preview"))
    assert response.status_code == 200
    total = response.context["order_total"].incl_tax
    html = " ".join(response.content.decode().split())
    assert f"about {money(expected_donation(D('30.00'), D('11.50'), fee_basis=total))}" in html


@pytest.fixture
def paid_order(campaign, django_user_model):
    """A customer's paid order of 2 T-shirts (simulated payment: estimated fee on the order total)."""
    user = make_user(django_user_model, "ana")
    shirt = StockRecord.objects.get(partner_sku="P6-TEE-BLK-M")
    order = place_pending_order(basket=build_basket(items=[(shirt.product, 2)], owner=user), email=user.email,
                                address=ADDRESS, user=user)
    intent = PaymentIntent(
        id=f"sim_pi_{order.number}", status="succeeded", amount=order.total_incl_tax, currency=order.currency,
        amount_received=order.total_incl_tax, client_secret=None, payment_method="simulated",
        latest_charge_id=None, metadata={"simulated": "true"}, last_error_message=None, next_action_type=None,
    )
    payments.payment_captured(order=order, intent=intent, fee=Fee(None, estimated=True), simulated=True)
    order.user_obj = user
    return order


def _posted(order):
    return sum(b.donation for b in OrderLineBreakdown.objects.filter(order=order))


def test_the_thank_you_page_shows_what_the_paid_order_gave(client, paid_order):
    # given the fee on the order total (shirts + shipping), the donation is the sale's
    expected = expected_donation(D("60.00"), D("23.00"), fee_basis=paid_order.total_incl_tax)
    assert _posted(paid_order) == expected
    session = client.session
    session["checkout_order_id"] = paid_order.pk
    session.save()
    html = " ".join(client.get(reverse("checkout:thank-you")).content.decode().split())
    assert f"Your order gave {money(expected)} to Russian LGBT groups." in html
    # and its receipt code, linked to its entries in the public ledger (issue 17, item 3)
    code = receipt_code(paid_order.number)
    assert f"Your receipt code: <code>{code}</code>." in html
    assert f'href="{reverse("fundraising:ledger")}?receipt={code}"' in html


def test_an_unpaid_order_shows_no_donation(client, campaign):
    shirt = StockRecord.objects.get(partner_sku="P6-TEE-BLK-M")
    order = place_pending_order(basket=build_basket(items=[(shirt.product, 1)]), email="x@example.org", address=ADDRESS)
    session = client.session
    session["checkout_order_id"] = order.pk
    session.save()
    assert 'id="p6-order-donation"' not in client.get(reverse("checkout:thank-you")).content.decode()


def test_the_confirmation_email_says_what_the_order_gave(paid_order):
    payments.send_paid_email(order_pk=paid_order.pk)
    [message] = mail.outbox
    text = " ".join(message.body.split())
    html = " ".join(message.alternatives[0][0].split()) if message.alternatives else text
    amount = money(_posted(paid_order))
    assert f"Your order gave {amount} to Russian LGBT groups." in text
    assert f"Your order gave {amount} to Russian LGBT groups." in html
    code = receipt_code(paid_order.number)
    link = f"http://example.com{reverse('fundraising:ledger')}?receipt={code}"
    assert f"Your receipt code: {code}. See it in the public ledger: {link}" in text
    assert f"Your receipt code: {code}." in html and f'href="{link}"' in html


def test_the_account_order_history_shows_each_paid_orders_donation(client, paid_order):
    client.force_login(paid_order.user_obj)
    amount = money(_posted(paid_order))
    listing = client.get(reverse("customer:order-list")).content.decode()
    assert f'<td class="p6-donation">{amount}</td>' in listing
    page = client.get(reverse("customer:order", kwargs={"order_number": paid_order.number}))
    detail = " ".join(page.content.decode().split())
    assert "Donation to Russian LGBT groups" in detail and amount in detail.split('id="p6-order-donation"')[1][:300]


def test_the_order_history_reads_donations_in_constant_queries(client, paid_order, django_user_model):
    user = paid_order.user_obj
    client.force_login(user)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("customer:order-list")).status_code == 200
        return len(ctx.captured_queries)

    one = count()
    shirt = StockRecord.objects.get(partner_sku="P6-TEE-BLK-M")
    for _ in range(3):
        order = place_pending_order(basket=build_basket(items=[(shirt.product, 1)], owner=user), email=user.email,
                                    address=ADDRESS, user=user)
        intent = PaymentIntent(
            id=f"sim_pi_{order.number}", status="succeeded", amount=order.total_incl_tax, currency=order.currency,
            amount_received=order.total_incl_tax, client_secret=None, payment_method="simulated",
            latest_charge_id=None, metadata={"simulated": "true"}, last_error_message=None, next_action_type=None,
        )
        payments.payment_captured(order=order, intent=intent, fee=Fee(None, estimated=True), simulated=True)
    assert count() == one
