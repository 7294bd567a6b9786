"""Reads of the catalogue every layer shares: a stock record's unit cost, and which variant a parent starts from.

One rule each, used by the order snapshot and the donation estimates (fundraising) and the pricing strategy
(shop): a unit cost counts only in the currency asked for (a cost in another currency than the price would
make profit meaningless), and a parent product is priced from its cheapest variant that can be bought.
"""

from catalog.models import UnitCost


def unit_costs(currency_of):
    """``{stock record id: unit cost}`` for ``currency_of`` = ``{stock record id: currency}`` (one query).

    A stock record with no unit cost, or with one in another currency than asked, is left out: the caller
    counts it as missing.
    """
    rows = UnitCost.objects.filter(stockrecord_id__in=list(currency_of)).values_list(
        "stockrecord_id", "amount", "currency")
    return {pk: amount for pk, amount, currency in rows if currency.upper() == str(currency_of[pk]).upper()}


def buyable_variants(records):
    """The stock records (of a parent's variants) that have stock left, or all of them when none has."""
    records = list(records)
    return [r for r in records if r.net_stock_level is None or r.net_stock_level > 0] or records


def cheapest(records):
    """The cheapest of the stock records (by price, then id so that ties always give the same one)."""
    return min(records, key=lambda record: (record.price, record.pk))
