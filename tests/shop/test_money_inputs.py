"""Every amount staff type or an API client sends is read by one rule (MoneyAmountField / parse_amount):
plain decimal notation, no finer than the currency's minor unit, at most 12 digits before the point.
Refused amounts are posted through the real views, and nothing is written.
"""

from decimal import Decimal as D

import pytest
from django.apps import apps
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from oscar.core.loading import get_model

from catalog.models import UnitCost
from fundraising.models import Beneficiary, CampaignGoal
from tests.api.conftest import ADDRESS
from tests.shop.test_payable_offers import _place_order_through_the_storefront

Order = get_model("order", "Order")
StockRecord = get_model("partner", "StockRecord")

pytestmark = pytest.mark.django_db

PLAIN_USD = ("Enter the amount in plain decimal notation, like 12.50: digits and at most one decimal point, "
             "no exponent, thousands separator or plus sign.")
PLAIN_JPY = PLAIN_USD.replace("12.50", "1250")
CENTS = "Enter at most 2 decimal places for USD."
WHOLE_YEN = "Enter an amount in whole yen (JPY has no decimals)."

# What each refused USD amount is told.
REFUSED_USD = [("1e1", PLAIN_USD), ("1E-2", PLAIN_USD), ("NaN", PLAIN_USD), ("1,000.00", PLAIN_USD),
               ("+5", PLAIN_USD), ("abc", PLAIN_USD), ("0.001", CENTS),
               ("1234567890123", "Enter at most 12 digits before the decimal point.")]
REFUSED_IDS = [text for text, _ in REFUSED_USD]


def row_counts():
    """Rows of every table a money form or the API checkout could write."""
    labels = ["order", "payment", "payments", "fundraising", "catalog", "basket"]
    return {model._meta.label: model.objects.count() for label in labels
            for model in apps.get_app_config(label).get_models()}


def amount_errors(response):
    return list(response.context["form"].errors.get("amount", []))


@pytest.fixture
def jpy(settings):
    settings.OSCAR_DEFAULT_CURRENCY = "JPY"
    settings.SHOP_CURRENCY = "JPY"


@pytest.fixture
def jpy_pin(p6_catalogue, jpy):
    """The pin priced 255 JPY, its unit cost 100 JPY."""
    pin = p6_catalogue.get(partner_sku="P6-PIN")
    StockRecord.objects.filter(pk=pin.pk).update(price=D("255"), price_currency="JPY")
    UnitCost.objects.filter(stockrecord=pin).update(amount=D("100"), currency="JPY")
    return StockRecord.objects.get(pk=pin.pk)


# --- the dashboard refund form (its currency is the order's) ---------------------------------------------


def _refund(staff_client, order, amount):
    return staff_client.post(reverse("payments-dashboard:order-refund", kwargs={"number": order.number}), {
        "scope": "amount", "amount": amount, "request_id": "0" * 32, "reason": ""})


@pytest.mark.parametrize("text, message", REFUSED_USD, ids=REFUSED_IDS)
def test_refund_amount_is_refused_and_nothing_is_written(staff_client, p6_catalogue, text, message):
    order, _ = _place_order_through_the_storefront(Client(), "P6-PIN")
    before = row_counts()
    response = _refund(staff_client, order, text)
    assert response.status_code == 400
    assert amount_errors(response) == [message]
    assert row_counts() == before


def test_refund_of_a_jpy_order_is_in_whole_yen(staff_client, jpy_pin):
    order, _ = _place_order_through_the_storefront(Client(), "P6-PIN")
    assert order.currency == "JPY"
    before = row_counts()
    for text, message in [("1.5", WHOLE_YEN), ("1e1", PLAIN_JPY), ("abc", PLAIN_JPY),
                          ("0", "Ensure this value is greater than or equal to 1.")]:
        response = _refund(staff_client, order, text)
        assert response.status_code == 400
        assert amount_errors(response) == [message], text
    assert row_counts() == before


def test_refund_of_a_huf_order_is_only_what_stripe_can_refund(staff_client, p6_catalogue):
    # given an order in HUF (two decimals in ISO 4217, charged in whole forint by Stripe)
    order, _ = _place_order_through_the_storefront(Client(), "P6-PIN")
    Order.objects.filter(pk=order.pk).update(currency="HUF")
    before = row_counts()
    response = _refund(staff_client, Order.objects.get(pk=order.pk), "10.50")
    assert response.status_code == 400
    assert amount_errors(response) == ["Stripe charges HUF in steps of 1 HUF: 10.50 HUF cannot be charged."]
    assert row_counts() == before


# --- fundraising: the disbursement and the public goal ---------------------------------------------------


def _disburse(staff_client, currency, amount):
    beneficiary = Beneficiary.objects.get_or_create(name="Alpha", slug="alpha", country="RU")[0]
    return staff_client.post(reverse("fundraising-dashboard:disbursement-create"), {
        "beneficiary": beneficiary.pk, "currency": currency, "amount": amount,
        "paid_on": timezone.now().date().isoformat(), "reference": "wire-1", "confirm": "yes"})


@pytest.mark.parametrize("text, message", REFUSED_USD + [("-5", "Enter an amount that is not negative."),
                                                         ("0", "Enter an amount above zero.")],
                         ids=REFUSED_IDS + ["-5", "0"])
def test_disbursement_amount_is_refused_and_nothing_is_written(staff_client, db, text, message):
    Beneficiary.objects.create(name="Alpha", slug="alpha", country="RU")
    before = row_counts()
    response = _disburse(staff_client, "USD", text)
    assert response.status_code == 200 and not response.context.get("confirm")
    assert amount_errors(response) == [message]
    assert row_counts() == before


def test_disbursement_in_yen_is_in_whole_yen(staff_client, jpy):
    Beneficiary.objects.create(name="Alpha", slug="alpha", country="RU")
    before = row_counts()
    for text, message in [("1.5", WHOLE_YEN), ("abc", PLAIN_JPY), ("1e1", PLAIN_JPY)]:
        response = _disburse(staff_client, "JPY", text)
        assert amount_errors(response) == [message], text
    # and a whole amount is checked against the payable balance (none), not refused for its notation
    response = _disburse(staff_client, "JPY", "1000")
    assert amount_errors(response) == ["More than the payable balance of Alpha: 0 JPY."]
    assert row_counts() == before


@pytest.mark.parametrize("text, message", REFUSED_USD + [("-5", "Enter an amount that is not negative.")],
                         ids=REFUSED_IDS + ["-5"])
def test_goal_amount_is_refused_and_nothing_is_written(staff_client, db, text, message):
    before = row_counts()
    response = staff_client.post(reverse("fundraising-dashboard:goal"), {"amount": text})
    assert response.status_code == 200
    assert amount_errors(response) == [message]
    assert row_counts() == before and CampaignGoal.objects.count() == 0


def test_goal_in_yen_is_in_whole_yen(staff_client, jpy):
    response = staff_client.post(reverse("fundraising-dashboard:goal"), {"amount": "5000.5"})
    assert amount_errors(response) == [WHOLE_YEN]
    assert CampaignGoal.objects.count() == 0
    assert staff_client.post(reverse("fundraising-dashboard:goal"), {"amount": "5000"}).status_code == 302
    goal = CampaignGoal.objects.get()
    assert (goal.currency, goal.amount) == ("JPY", D("5000"))


# --- catalog: the unit cost (in the stock record's currency) ---------------------------------------------


def _unit_cost(staff_client, record, amount):
    return staff_client.post(reverse("catalog-dashboard:unit-cost-edit", kwargs={"stockrecord_pk": record.pk}),
                             {"amount": amount})


@pytest.mark.parametrize("text, message", REFUSED_USD, ids=REFUSED_IDS)
def test_unit_cost_is_refused_and_nothing_is_written(staff_client, p6_catalogue, text, message):
    record = p6_catalogue.get(partner_sku="P6-PIN")
    before = row_counts()
    response = _unit_cost(staff_client, record, text)
    assert response.status_code == 200
    assert amount_errors(response) == [message]
    assert row_counts() == before and UnitCost.objects.get(stockrecord=record).amount == D("1.75")


def test_unit_cost_of_a_yen_stock_record_is_in_whole_yen(staff_client, jpy_pin):
    response = _unit_cost(staff_client, jpy_pin, "99.5")
    assert amount_errors(response) == [WHOLE_YEN]
    assert UnitCost.objects.get(stockrecord=jpy_pin).amount == D("100")
    assert _unit_cost(staff_client, jpy_pin, "99").status_code == 302
    assert UnitCost.objects.get(stockrecord=jpy_pin).amount == D("99")


# --- the API checkout's expected total and shipping charge ---------------------------------------------


def _api_basket(client, sku):
    basket = client.get("/api/basket/").json()
    record = StockRecord.objects.get(partner_sku=sku)
    assert client.post("/api/basket/add-product/", {
        "url": f"http://testserver/api/products/{record.product_id}/", "quantity": 1,
    }, content_type="application/json").status_code == 200
    return basket["url"]


def _api_checkout(client, basket_url, **money):
    return client.post("/api/checkout/", {
        "basket": basket_url, "guest_email": "fan@example.org",
        "shipping_address": {**ADDRESS, "country": "http://testserver/api/countries/US/"}, **money,
    }, content_type="application/json")


@pytest.mark.parametrize("total, message", [
    *REFUSED_USD,
    (5.5, 'Send the amount as a string in plain decimal notation, like "12.50".'),
    (True, 'Send the amount as a string in plain decimal notation, like "12.50".'),
], ids=REFUSED_IDS + ["float", "bool"])
def test_api_checkout_total_is_refused_and_no_order_is_written(client, p6_catalogue, total, message):
    before = Order.objects.count()
    response = _api_checkout(client, _api_basket(client, "P6-PIN"), total=total)
    assert response.status_code == 406
    assert response.json() == {"total": [message]}
    assert Order.objects.count() == before


def test_api_checkout_shipping_charge_is_read_the_same_way(client, p6_catalogue):
    response = _api_checkout(client, _api_basket(client, "P6-PIN"),
                             shipping_charge={"currency": "USD", "excl_tax": "0e0"})
    assert response.status_code == 406
    assert response.json() == {"shipping_charge": {"excl_tax": [PLAIN_USD]}}
    assert Order.objects.count() == 0


def test_api_checkout_in_yen_wants_whole_yen_and_takes_the_right_total(client, jpy_pin):
    basket = _api_basket(client, "P6-PIN")
    response = _api_checkout(client, basket, total="255.5")
    assert (response.status_code, response.json()) == (406, {"total": [WHOLE_YEN]})
    assert Order.objects.count() == 0
    response = _api_checkout(client, basket, total=255)  # a JSON integer is plain notation too
    assert response.status_code == 200, response.content[:500]
    assert Order.objects.get().total_incl_tax == D("255")
