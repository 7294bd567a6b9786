"""One fee rule for the promise and the posting (fundraising/fees.py; issue 16, item 3)."""

from decimal import Decimal as D

import pytest

from fundraising.fees import UNREPORTED, pass_through, promised_fee, sale_fee, scheduled_fee
from fundraising.money import Fee


@pytest.mark.parametrize("amount, currency, expected", [
    (D("30.00"), "USD", D("1.17")),   # 0.87 + 0.30
    (D("58.00"), "USD", D("1.98")),   # 1.682 + 0.30 = 1.982 -> 1.98
    (D("8.00"), "USD", D("0.53")),    # 0.232 + 0.30 = 0.532 -> 0.53
    (D("0.00"), "USD", D("0.00")),    # nothing paid, no fixed part either
    (D("3000"), "JPY", D("87")),      # 87 + 0.30 yen (the fixed part is in major units) -> 87
])
def test_a_promise_counts_the_schedules_fee(amount, currency, expected):
    assert promised_fee(amount=amount, currency=currency) == scheduled_fee(amount=amount, currency=currency) == expected


def test_a_sale_with_no_reported_fee_posts_the_promised_fee_flagged_estimated():
    assert sale_fee(reported=UNREPORTED, amount=D("30.00"), currency="USD") == Fee(D("1.17"), estimated=True)
    # estimated whatever the caller said: the schedule's figure is never Stripe's
    assert sale_fee(reported=Fee(None, estimated=False), amount=D("30.00"), currency="USD") == Fee(D("1.17"), True)


def test_a_sale_with_a_reported_fee_posts_it_as_reported():
    # Stripe's fee (e.g. an international card: 2.9 % + 1.5 % + 0.30 = 1.62) differs from the promise's 1.17
    assert sale_fee(reported=Fee(D("1.62"), estimated=False), amount=D("30.00"), currency="USD") == Fee(
        D("1.62"), estimated=False)
    # a reported 0.00 is a fee of 0 (only the gateway knows a peer whose 0 is no fee, and passes None instead)
    assert sale_fee(reported=Fee(D("0.00"), estimated=False), amount=D("30.00"), currency="USD") == Fee(
        D("0.00"), estimated=False)


def test_the_schedule_is_read_from_the_settings_as_decimals_from_their_text(settings):
    settings.STRIPE_FEE_PERCENT, settings.STRIPE_FEE_FIXED = "3.4", "0.25"
    assert promised_fee(amount=D("30.00"), currency="USD") == D("1.27")  # 1.02 + 0.25


@pytest.mark.parametrize("reported", [None, D("1.17"), (D("1.17"), False)])
def test_a_fee_that_is_not_a_fee_value_is_refused(reported):
    with pytest.raises(TypeError, match="fee must be a Fee"):
        sale_fee(reported=reported, amount=D("30.00"), currency="USD")


# --- shipping is pass-through, and so is the fee on it (mutation testing: each test names what it pins) --------


@pytest.mark.parametrize("reported, name", [(D("1.17"), "Decimal"), ((D("1.17"), False), "tuple"), (None, "NoneType")])
def test_the_refusal_of_a_fee_that_is_not_a_fee_value_names_its_type(reported, name):
    with pytest.raises(TypeError, match=rf"not {name}$"):
        sale_fee(reported=reported, amount=D("30.00"), currency="USD")


@pytest.mark.parametrize("reported", [UNREPORTED, Fee(D("1.40"), estimated=False)])
@pytest.mark.parametrize("shipping", [D("-0.01"), D("38.01")])
def test_shipping_below_zero_or_above_the_amount_paid_is_refused(reported, shipping):
    # either bound alone refuses (an `and` would refuse neither), with the figures in the message
    with pytest.raises(ValueError, match=rf"^pass-through {shipping} outside 0\.\.38\.00$"):
        sale_fee(reported=reported, amount=D("38.00"), currency="USD", pass_through=shipping)


def test_shipping_at_either_bound_is_accepted():
    assert sale_fee(reported=UNREPORTED, amount=D("38.00"), currency="USD", pass_through=D("0")) == Fee(D("1.40"), True)
    # all of it shipping: no goods, no fee on goods (the reported fee is all the shipping's)
    assert sale_fee(reported=UNREPORTED, amount=D("8.00"), currency="USD",
                    pass_through=D("8.00")) == Fee(D("0.00"), True)
    assert sale_fee(reported=Fee(D("0.53"), estimated=False), amount=D("8.00"), currency="USD",
                    pass_through=D("8.00")) == Fee(D("0.00"), estimated=False)


def test_with_no_fee_reported_the_schedule_is_taken_on_the_amount_less_shipping():
    # 30.00 of goods + 8.00 shipping: the fee of the 30.00 alone (1.17), not of 38.00 (1.40) nor 46.00 (1.63)
    assert sale_fee(reported=UNREPORTED, amount=D("38.00"), currency="USD", pass_through=D("8.00")) == Fee(
        D("1.17"), estimated=True)
    assert promised_fee(amount=D("38.00"), currency="USD", pass_through=D("8.00")) == D("1.17")
    assert promised_fee(amount=D("38.00"), currency="USD") == D("1.40")


def test_a_reported_fee_leaves_out_its_shipping_part_pro_rata_to_the_amount():
    # 1.40 × 8.00 / 38.00 = 0.2947… -> 0.29 of it is the shipping's; the goods bear 1.11
    assert sale_fee(reported=Fee(D("1.40"), estimated=False), amount=D("38.00"), currency="USD",
                    pass_through=D("8.00")) == Fee(D("1.11"), estimated=False)


def test_the_shipping_part_of_a_reported_fee_is_rounded_half_up_once():
    # 0.90 × 5.00 / 36.00 = 0.125 exactly -> 0.13 (half-even would say 0.12): the goods bear 0.77
    assert sale_fee(reported=Fee(D("0.90"), estimated=False), amount=D("36.00"), currency="USD",
                    pass_through=D("5.00")) == Fee(D("0.77"), estimated=False)


def test_the_shipping_part_of_a_reported_fee_is_rounded_to_the_currencys_minor_unit():
    # 112 × 1000 / 3700 = 30.27… yen -> 30 (JPY has no decimals): the goods bear 82, not 81.73
    fee = sale_fee(reported=Fee(D("112"), estimated=False), amount=D("3700"), currency="JPY", pass_through=D("1000"))
    assert fee == Fee(D("82"), estimated=False)
    assert fee.amount.as_tuple().exponent == 0


def test_a_reported_fee_keeps_its_estimated_flag_with_or_without_shipping():
    # a caller that passes an estimate with an amount keeps it flagged estimated (never promoted to Stripe's)
    assert sale_fee(reported=Fee(D("1.40"), estimated=True), amount=D("38.00"), currency="USD") == Fee(
        D("1.40"), estimated=True)
    assert sale_fee(reported=Fee(D("1.40"), estimated=True), amount=D("38.00"), currency="USD",
                    pass_through=D("8.00")) == Fee(D("1.11"), estimated=True)


def test_the_pass_through_is_what_was_paid_beyond_the_revenue_excluding_tax():
    assert pass_through(paid=D("104.00"), revenue_excl_tax=D("80.00")) == D("24.00")
    assert pass_through(paid=D("80.00"), revenue_excl_tax=D("80.00")) == D("0.00")
    with pytest.raises(ValueError, match=r"^revenue excluding tax 80\.01 above the amount paid 80\.00$"):
        pass_through(paid=D("80.00"), revenue_excl_tax=D("80.01"))
