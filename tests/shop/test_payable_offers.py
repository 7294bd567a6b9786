"""Offers never make a total Stripe cannot charge (DESIGN "Money rules"; shop/offer/benefits.py).

Oscar left 10 % off 255 JPY as a 25.5 JPY line discount: a 229.5 JPY basket and order, which no card
payment can match. Each discount is now rounded half-up, where Oscar computes it, to the smallest amount
Stripe charges in the currency: 25.5 JPY off rounds to 26, so the fan pays 229 JPY (not 230: the discount
is rounded, not the total, and half-up gives the fan the half unit).
"""

from decimal import Decimal as D

import pytest
from django.urls import reverse
from oscar.core.loading import get_class, get_model
from oscar.test import factories

from fundraising.money import to_stripe_minor
from shop.offer.benefits import PayablePercentageDiscountBenefit, round_share

Basket = get_model("basket", "Basket")
Benefit = get_model("offer", "Benefit")
Condition = get_model("offer", "Condition")
Order = get_model("order", "Order")
OrderDiscount = get_model("order", "OrderDiscount")
Range = get_model("offer", "Range")
StockRecord = get_model("partner", "StockRecord")
Applicator = get_class("offer.applicator", "Applicator")
Selector = get_class("partner.strategy", "Selector")

pytestmark = pytest.mark.django_db


@pytest.fixture
def jpy(settings):
    settings.OSCAR_DEFAULT_CURRENCY = "JPY"
    settings.SHOP_CURRENCY = "JPY"


def site_offer(benefit_type, value, *, name="Site offer"):
    everything, _ = Range.objects.get_or_create(name="Everything", includes_all_products=True)
    condition = Condition.objects.create(range=everything, type=Condition.COUNT, value=1)
    benefit = Benefit.objects.create(range=everything, type=benefit_type, value=D(value))
    return factories.create_offer(name=name, condition=condition, benefit=benefit)


def item(price, currency):
    """A buyable product with one stock record at ``price`` (StockRecordFactory alone would be GBP)."""
    product = factories.create_product(product_class="P6 test item")
    factories.create_stockrecord(product, price=D(price), currency=currency, num_in_stock=1000)
    return product


def basket_of(*lines):
    basket = Basket.objects.create()
    basket.strategy = Selector().strategy()
    for product, quantity in lines:
        basket.add_product(product, quantity=quantity)
    Applicator().apply(basket)
    return basket


def offer_discounts(basket):
    return [application["discount"] for application in basket.offer_applications.offer_discounts]


# --- Oscar's flow goes through our benefits ---------------------------------------------------------------


def test_the_offer_app_is_forked_and_benefits_resolve_to_the_payable_ones():
    benefit = Benefit(type=Benefit.PERCENTAGE, value=D("10"))
    assert type(benefit.proxy()) is PayablePercentageDiscountBenefit
    assert round_share(D("8.5"), "JPY") == D("8") and round_share(D("1.239"), "USD") == D("1.23")


# --- percentage offers ------------------------------------------------------------------------------------


def test_ten_percent_off_255_jpy_is_229_jpy(jpy):
    # given a 10 % site offer and a 255 JPY item
    site_offer(Benefit.PERCENTAGE, "10")
    basket = basket_of((item("255", "JPY"), 1))

    # then the discount 25.5 is rounded half-up to 26, and every total is whole yen
    (line,) = basket.all_lines()
    assert line.discount_value == D("26")
    assert offer_discounts(basket) == [D("26")]
    assert line.line_price_incl_tax_incl_discounts == D("229")
    assert basket.total_incl_tax == D("229") and basket.total_excl_tax == D("229")
    assert to_stripe_minor(basket.total_incl_tax, "JPY") == 229


def test_a_percentage_discount_is_rounded_per_line_and_the_offer_records_their_sum(jpy):
    # given two JPY lines whose 10 % are 25.5 and 3.3 (quantity 3 of 11)
    site_offer(Benefit.PERCENTAGE, "10")
    basket = basket_of((item("255", "JPY"), 1), (item("11", "JPY"), 3))

    # then each line's discount is whole (26 and 3) and the offer's discount is what was applied
    assert sorted(line.discount_value for line in basket.all_lines()) == [D("3"), D("26")]
    assert offer_discounts(basket) == [D("29")]
    assert basket.total_incl_tax == D("255") + D("33") - D("29") == D("259")


def test_usd_33_percent_on_odd_amounts_rounds_each_discount_to_cents():
    # given a 33 % offer on 19.99 and 2 x 7.77 USD (raw discounts 6.5967 and 5.1282)
    site_offer(Benefit.PERCENTAGE, "33")
    basket = basket_of((item("19.99", "USD"), 1), (item("7.77", "USD"), 2))

    # then the line discounts are 6.60 and 5.13 (half-up), recorded as 11.73 (Oscar: 11.72, rounded down,
    # a cent short of what the lines took off), and the total is exact cents
    assert sorted(line.discount_value for line in basket.all_lines()) == [D("5.13"), D("6.60")]
    assert offer_discounts(basket) == [D("11.73")]
    assert sorted(line.line_price_incl_tax_incl_discounts for line in basket.all_lines()) == [D("10.41"), D("13.39")]
    assert basket.total_incl_tax == D("23.80") == D("19.99") + D("15.54") - D("11.73")
    assert to_stripe_minor(basket.total_incl_tax, "USD") == 2380


# --- money-valued benefits --------------------------------------------------------------------------------


def test_an_absolute_discount_finer_than_the_yen_is_applied_as_whole_yen_on_every_line(jpy):
    # given 100.5 JPY off (staff typed a fraction) over three 100 JPY lines
    site_offer(Benefit.FIXED, "100.5")
    basket = basket_of((item("100", "JPY"), 1), (item("100", "JPY"), 1), (item("100", "JPY"), 1))

    # then the discount is 101 (half-up), spread 33 / 33 / 35: Oscar's shares rounded down to the yen, the
    # last line taking the rest
    assert sorted(line.discount_value for line in basket.all_lines()) == [D("33"), D("33"), D("35")]
    assert offer_discounts(basket) == [D("101")]
    assert basket.total_incl_tax == D("199")
    # and the benefit row keeps what staff typed
    assert Benefit.objects.get(type=Benefit.FIXED).value == D("100.50")


def test_a_fixed_unit_discount_finer_than_the_yen_is_rounded_per_line(jpy):
    # given 10.5 JPY off each unit, on one unit of a line and two of another
    site_offer(Benefit.FIXED_UNIT, "10.5")
    basket = basket_of((item("100", "JPY"), 1), (item("100", "JPY"), 2))
    # then the lines get 11 (10.5 rounded half-up) and 21
    assert sorted(line.discount_value for line in basket.all_lines()) == [D("11"), D("21")]
    assert offer_discounts(basket) == [D("32")] and basket.total_incl_tax == D("268")


def test_a_fixed_price_bundle_finer_than_the_yen_is_whole(jpy):
    everything, _ = Range.objects.get_or_create(name="Everything", includes_all_products=True)
    condition = Condition.objects.create(range=everything, type=Condition.COUNT, value=2)
    benefit = Benefit.objects.create(range=everything, type=Benefit.FIXED_PRICE, value=D("150.5"))
    factories.create_offer(name="Two for 150.5", condition=condition, benefit=benefit)
    basket = basket_of((item("100", "JPY"), 2))
    # then the discount 200 - 150.5 = 49.5 is rounded half-up to 50, spread as whole yen
    assert offer_discounts(basket) == [D("50")] and basket.total_incl_tax == D("150")
    assert [line.discount_value for line in basket.all_lines()] == [D("50")]


@pytest.mark.parametrize("benefit_type, value, charge, currency, discount", [
    (Benefit.SHIPPING_PERCENTAGE, "10", "255", "JPY", D("26")),
    (Benefit.SHIPPING_PERCENTAGE, "33", "7.77", "USD", D("2.56")),
    (Benefit.SHIPPING_ABSOLUTE, "10.5", "255", "JPY", D("11")),
    (Benefit.SHIPPING_FIXED_PRICE, "100.5", "255", "JPY", D("155")),
    (Benefit.SHIPPING_FIXED_PRICE, "300", "255", "JPY", D("0")),
])
def test_shipping_discounts_are_whole_units(benefit_type, value, charge, currency, discount):
    benefit = Benefit(type=benefit_type, value=D(value)).proxy()
    assert benefit.shipping_discount(D(charge), currency) == discount


# --- the storefront: an order placed with the offer is payable -----------------------------------------


def _place_order_through_the_storefront(client, sku):
    """The storefront's guest checkout up to "Place order" (as tests/payments/conftest.py place_order)."""
    record = StockRecord.objects.select_related("product").get(partner_sku=sku)
    product = record.product
    data = {"quantity": 1}
    if product.parent_id:
        data["child_id"] = product.pk
        product = product.parent
    assert client.post(reverse("basket:add", kwargs={"pk": product.pk}), data).status_code == 302
    client.post(reverse("checkout:index"), {"username": "fan@example.org", "options": "anonymous"})
    client.post(reverse("checkout:shipping-address"), {
        "first_name": "Ana", "last_name": "Fan", "line1": "1 Main St", "line4": "Boston", "state": "MA",
        "postcode": "02110", "country": "US",
    })
    client.get(reverse("checkout:shipping-method"))
    response = client.post(reverse("checkout:preview"), {"action": "place_order"})
    assert response.status_code == 302, response.content[:2000]
    order = Order.objects.order_by("-pk").first()
    assert response["Location"] == reverse("checkout:pay", kwargs={"order_number": order.number})
    return order, response


def test_a_jpy_order_placed_with_a_ten_percent_offer_is_payable(client, p6_catalogue, jpy):
    # given a JPY shop: the pin costs 255 JPY (its unit cost in JPY too), and a 10 % site offer
    pin = p6_catalogue.get(partner_sku="P6-PIN")
    StockRecord.objects.filter(pk=pin.pk).update(price=D("255"), price_currency="JPY")
    pin.unit_cost.amount, pin.unit_cost.currency = D("100"), "JPY"
    pin.unit_cost.save()
    site_offer(Benefit.PERCENTAGE, "10")

    # when a fan buys it through the storefront's checkout
    order, response = _place_order_through_the_storefront(client, "P6-PIN")

    # then the order's totals are whole yen: 255 - 26 (25.5 rounded half-up) = 229
    assert order.currency == "JPY"
    assert order.total_incl_tax == D("229") and order.total_excl_tax == D("229")
    assert order.total_incl_tax == order.total_incl_tax.to_integral_value()
    (line,) = order.lines.all()
    assert line.line_price_incl_tax == D("229") and line.line_price_before_discounts_incl_tax == D("255")
    assert list(OrderDiscount.objects.filter(order=order).values_list("amount", flat=True)) == [D("26")]
    # and Stripe can charge it
    assert to_stripe_minor(order.total_incl_tax, "JPY") == 229
    # and the payment page shows it
    assert client.get(response["Location"]).status_code == 200


def test_a_usd_order_placed_with_a_33_percent_offer_is_exact_cents(client, p6_catalogue):
    # given a 33 % site offer on the 19.99 USD pin
    StockRecord.objects.filter(partner_sku="P6-PIN").update(price=D("19.99"))
    site_offer(Benefit.PERCENTAGE, "33")

    # when a fan buys it through the storefront's checkout
    order, _ = _place_order_through_the_storefront(client, "P6-PIN")

    # then 6.5967 off is 6.60 off: 13.39 to pay, and the order's discount says 6.60
    assert order.total_incl_tax == D("13.39")
    assert list(OrderDiscount.objects.filter(order=order).values_list("amount", flat=True)) == [D("6.60")]
    assert to_stripe_minor(order.total_incl_tax, "USD") == 1339
