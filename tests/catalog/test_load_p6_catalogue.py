"""Seeding the P6 catalogue (issue #2)."""

from io import StringIO

import pytest
from django.core.management import call_command
from oscar.core.loading import get_model

from catalog.models import UnitCost

Product = get_model("catalogue", "Product")
ProductImage = get_model("catalogue", "ProductImage")
StockRecord = get_model("partner", "StockRecord")
Partner = get_model("partner", "Partner")
Category = get_model("catalogue", "Category")
Country = get_model("address", "Country")

pytestmark = pytest.mark.django_db


def _counts():
    return {
        "partners": Partner.objects.count(),
        "products": Product.objects.count(),
        "children": Product.objects.filter(structure=Product.CHILD).count(),
        "stockrecords": StockRecord.objects.count(),
        "unit_costs": UnitCost.objects.count(),
        "images": ProductImage.objects.count(),
        "categories": Category.objects.count(),
        "shipping_countries": Country.objects.filter(is_shipping_country=True).count(),
    }


def _load():
    out = StringIO()
    call_command("load_p6_catalogue", stdout=out)
    return out.getvalue()


def test_seeding_creates_the_p6_catalogue_and_prints_it():
    output = _load()
    assert _counts() == {
        "partners": 1, "products": 43, "children": 38, "stockrecords": 40, "unit_costs": 40, "images": 5,
        "categories": 5, "shipping_countries": 8,
    }
    assert "created partner: American Apparel" in output
    assert "created variant: P6 Unisex T-shirt, Black, XS" in output
    assert "created unit cost: P6-PIN 1.75 USD" in output
    assert Partner.objects.get().name == "American Apparel"


def test_seeding_twice_changes_nothing_and_says_so():
    _load()
    before = _counts()
    output = _load()
    assert _counts() == before
    assert output.strip() == "P6 catalogue already loaded: nothing to do."


def test_seeding_keeps_staff_edits():
    _load()
    StockRecord.objects.filter(partner_sku="P6-TOTE").update(price="22.00", num_in_stock=3)
    _load()
    record = StockRecord.objects.get(partner_sku="P6-TOTE")
    assert (str(record.price), record.num_in_stock) == ("22.00", 3)


def test_every_buyable_variant_has_price_above_unit_cost_above_zero_and_stock():
    _load()
    buyable = Product.objects.exclude(structure=Product.PARENT)
    assert buyable.count() == 40
    for product in buyable:
        record = product.stockrecords.get()
        assert record.partner_sku and record.price_currency == "USD"
        assert record.price > record.unit_cost.amount > 0, record.partner_sku
        assert record.unit_cost.currency == record.price_currency
        assert record.num_in_stock > 0


def test_the_tshirt_comes_in_six_sizes_and_three_colours():
    _load()
    tee = Product.objects.get(upc="P6-TEE")
    pairs = {(child.attr.size, child.attr.colour) for child in tee.children.all()}
    assert {size for size, _ in pairs} == {"XS", "S", "M", "L", "XL", "XXL"}
    assert len({colour for _, colour in pairs}) == 3
    assert len(pairs) == 18
    assert "Principle 6" in tee.description and "Olympic Charter" in tee.description
