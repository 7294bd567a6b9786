import datetime as dt
from decimal import Decimal as D

import pytest
from django.utils import timezone

from fundraising import services
from tests.fundraising import support


@pytest.fixture(autouse=True)
def fee_schedule(settings):
    """The documented default fee schedule, whatever the environment says."""
    settings.STRIPE_FEE_PERCENT = D("2.9")
    settings.STRIPE_FEE_FIXED = D("0.30")


@pytest.fixture
def beneficiaries(db):
    """Alpha, Beta, Gamma (in id order, which breaks largest-remainder ties)."""
    return support.make_beneficiaries(3)


@pytest.fixture
def rule(beneficiaries):
    """The campaign rule: 50 % of profit, equal weights, in force since yesterday."""
    return services.set_share_rule(
        share_bps=5000, weights=[(b, 1) for b in beneficiaries], valid_from=timezone.now() - dt.timedelta(days=1)
    )


@pytest.fixture
def shirt(db):
    return support.make_stockrecord("25.00", cost="10.00")


@pytest.fixture
def pin(db):
    return support.make_stockrecord("12.00", cost="4.00")


@pytest.fixture
def order(rule, shirt, pin):
    """2 shirts (50.00, cost 20.00) and 1 pin (12.00, cost 4.00): 62.00 captured, snapshotted."""
    return support.place_order((shirt, 2), (pin, 1))


@pytest.fixture
def paid_order(order):
    """``order`` paid with a 2.10 fee: donation 17.96 = Alpha 5.99, Beta 5.99, Gamma 5.98."""
    support.pay(order)
    return order
