"""Builders shared by the fundraising tests: real Oscar orders on USD stock records with unit costs."""

import itertools
from decimal import Decimal as D

from oscar.core.loading import get_class, get_model
from oscar.test import factories

from catalog.models import UnitCost
from fundraising import services
from fundraising.models import Beneficiary, Entry, LedgerTransaction
from fundraising.money import Fee
from tests import markers

Basket = get_model("basket", "Basket")
Order = get_model("order", "Order")
Source = get_model("payment", "Source")
SourceType = get_model("payment", "SourceType")
Default = get_class("partner.strategy", "Default")
Applicator = get_class("offer.applicator", "Applicator")

postgres_only = markers.postgres_only

_sequence = itertools.count(1)


def make_beneficiaries(count=3):
    names = ["Alpha Group", "Beta Group", "Gamma Group", "Delta Group"][:count]
    return [
        Beneficiary.objects.create(name=name, slug=name.lower().replace(" ", "-"), country="RU",
                                   description=f"{name}, a test beneficiary")
        for name in names
    ]


def make_stockrecord(price, cost=None, currency="USD"):
    """A product with one stock record at ``price`` (Decimal string) and, when given, its unit cost."""
    n = next(_sequence)
    product = factories.create_product(title=f"P6 item {n}", upc=f"p6-{n}", product_class="P6 test item")
    record = factories.create_stockrecord(
        product, price=D(price), partner_sku=f"P6-SKU-{n}", num_in_stock=100_000, currency=currency,
        partner_name="American Apparel",
    )
    if cost is not None:
        UnitCost.objects.create(stockrecord=record, amount=D(cost), currency=currency)
    return record


def place_order(*lines, number=None, snapshot=True, offers=False):
    """Place a real Oscar order for ``(stockrecord, quantity)`` lines (free shipping, no tax)."""
    basket = Basket.objects.create()
    basket.strategy = Default()
    for record, quantity in lines:
        basket.add_product(record.product, quantity=quantity)
    if offers:
        Applicator().apply(basket)
    order = factories.create_order(number=str(number or 100_000 + next(_sequence)), basket=basket)
    if snapshot:
        services.snapshot_order(order=order)
    return order


def pay(order, *, fee=D("2.10"), estimated=False):
    """What the payment-captured service does: book the payment (a Source with the money debited), post the
    sale and mark the order paid, in one transaction."""
    txn = services.post_sale(order=order, fee=Fee(fee, estimated=estimated))
    book_payment(order)
    Order.objects.filter(pk=order.pk).update(status="Paid")
    return txn


def book_payment(order):
    """The payment Source of a paid order (verify_ledger checks that a paid status has one)."""
    source_type, _ = SourceType.objects.get_or_create(code="test", defaults={"name": "Test"})
    Source.objects.get_or_create(order=order, defaults={
        "source_type": source_type, "currency": order.currency, "amount_allocated": order.total_incl_tax,
        "amount_debited": order.total_incl_tax, "reference": f"test-{order.number}"})


def ledger_counts():
    """Row counts of every fundraising table, to assert that a refused call wrote nothing."""
    from django.apps import apps

    return {model.__name__: model.objects.count() for model in apps.get_app_config("fundraising").get_models()}


def entries_of(txn):
    """``{(account code, side): amount}`` of a transaction, for exact assertions."""
    result = {}
    for entry in Entry.objects.filter(transaction=txn).select_related("account__beneficiary"):
        side = "debit" if entry.debit else "credit"
        result[(entry.account.code, side)] = entry.debit or entry.credit
    return result


def transactions_of(order, kind):
    return list(LedgerTransaction.objects.filter(order=order, kind=kind).order_by("id"))
