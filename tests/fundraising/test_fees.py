"""One fee rule for the promise and the posting (fundraising/fees.py; issue 16, item 3)."""

from decimal import Decimal as D

import pytest

from fundraising.fees import UNREPORTED, promised_fee, sale_fee, scheduled_fee
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
