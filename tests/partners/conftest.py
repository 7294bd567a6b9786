import datetime as dt
from decimal import Decimal as D

import pytest
from django.utils import timezone
from oscar.test import factories

from catalog.models import UnitCost
from fundraising import services
from fundraising.models import Partner
from tests.fundraising import support as fsupport


@pytest.fixture
def beneficiaries(db):
    return fsupport.make_beneficiaries(3)


@pytest.fixture
def rules(beneficiaries):
    """50 % split equally since 400 days ago, then 60 % split 2:1:1 since 30 days ago (at this time of day)."""
    alpha, beta, gamma = beneficiaries
    now = timezone.now()
    first = services.set_share_rule(share_bps=5000, weights=[(b, 1) for b in beneficiaries],
                                    valid_from=now - dt.timedelta(days=400))
    second = services.set_share_rule(share_bps=6000, weights=[(alpha, 2), (beta, 1), (gamma, 1)],
                                     valid_from=now - dt.timedelta(days=30))
    return first, second


@pytest.fixture
def partner(db):
    return Partner.objects.get_or_create(slug="american-apparel", defaults={"name": "American Apparel"})[0]


@pytest.fixture
def skus(db):
    """Three SKUs with a USD stock record and USD unit cost; P6-TEE also sold in JPY (another Oscar partner)."""
    made = []
    for sku, price, cost in (("P6-TEE", "25.00", "10.00"), ("P6-HOODIE", "48.00", "21.50"), ("P6-PIN", "6.00", "1.25")):
        product = factories.create_product(title=sku, upc=sku.lower(), product_class="P6 test item")
        record = factories.create_stockrecord(product, price=D(price), partner_sku=sku, num_in_stock=100,
                                              currency="USD", partner_name="American Apparel")
        UnitCost.objects.create(stockrecord=record, amount=D(cost), currency="USD")
        made.append(sku)
    tee = factories.create_product(title="P6-TEE JP", upc="p6-tee-jp", product_class="P6 test item")
    record = factories.create_stockrecord(tee, price=D("3500"), partner_sku="P6-TEE", num_in_stock=100,
                                          currency="JPY", partner_name="American Apparel Japan")
    UnitCost.objects.create(stockrecord=record, amount=D("1400"), currency="JPY")
    return made
