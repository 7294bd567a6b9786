"""What a fan's purchase gives: estimates before payment, the posted figures after.

Before payment the donation is *estimated* with the same arithmetic as a sale
(``allocation.compute_breakdown``), the rule in force now and the sale's fee rule with no fee reported yet
(``fees.promised_fee``: the configured schedule on the amount paid less shipping and tax, which the posting also
uses whenever Stripe reports no fee). After payment it is read from the order's breakdown
rows, which the sale posting completed.
"""

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum

from oscar.core.loading import get_model

from catalog.selectors import buyable_variants, cheapest, unit_costs
from fundraising import allocation
from fundraising.fees import pass_through, promised_fee
from fundraising.models import LedgerTransaction, OrderLineBreakdown
from fundraising.money import quantize
from fundraising.selectors import rule_in_force

StockRecord = get_model("partner", "StockRecord")


@dataclass(frozen=True)
class Estimate:
    share_percent: Decimal
    amount: Decimal
    currency: str
    is_from: bool = False  # a parent product: the cheapest variant's figure ("from")


def _weights(rule):
    return [(allocation_.beneficiary_id, allocation_.weight) for allocation_ in rule.allocations.all()]


def line_estimate(*, price, unit_cost, currency, rule, quantity=1):
    """The donation of a one-line order at ``price`` per unit (excl. tax), or None without a rule."""
    if rule is None or price is None or unit_cost is None:
        return None
    price = quantize(price, currency)
    revenue = quantize(price * quantity, currency)
    fee = promised_fee(amount=revenue, currency=currency)
    [line] = allocation.compute_breakdown(
        currency=currency,
        lines=[allocation.LineInput(key=1, revenue_excl_tax=revenue, unit_cost=quantize(unit_cost, currency),
                                    quantity=quantity)],
        fee=fee, share_bps=rule.share_bps, weights=_weights(rule),
    )
    return line.donation


def product_estimate(product, *, rule=None):
    """The donation of one item of ``product`` (for a parent: its cheapest buyable variant, "from")."""
    rule = rule or rule_in_force()
    if rule is None:
        return None
    # Two queries whatever the number of variants (the stock records, their unit costs).
    records = StockRecord.objects.filter(price__isnull=False)
    if product.is_parent:
        records = buyable_variants(records.filter(product__parent=product, product__is_public=True))
    else:
        records = list(records.filter(product=product))
    figures = stock_record_estimates(records, rule=rule)
    if not figures:
        return None
    record = cheapest([record for record in records if record.pk in figures])
    return Estimate(
        share_percent=Decimal(rule.share_bps) / 100, amount=figures[record.pk], currency=record.price_currency,
        is_from=product.is_parent and len(set(figures.values())) > 1,
    )


def stock_record_estimates(records, *, rule):
    """``{stock record id: donation of one item}`` for the priced ``records`` that have a unit cost (one query:
    the unit costs); empty without a rule."""
    if rule is None:
        return {}
    costs = unit_costs({record.pk: record.price_currency for record in records})
    figures = {}
    for record in records:
        amount = line_estimate(price=record.price, unit_cost=costs.get(record.pk), currency=record.price_currency,
                               rule=rule)
        if amount is not None:
            figures[record.pk] = amount
    return figures


def basket_estimate(basket, *, total=None, rule=None, shipping=None):
    """The expected donation of the basket's lines: the fee estimated on ``total`` (what will be paid; default the
    basket's total plus ``shipping``), of which all beyond the lines' revenue excluding tax (shipping, tax) passes
    through."""
    rule = rule or rule_in_force()
    if rule is None or basket is None or basket.is_empty:
        return None
    currency = basket.currency
    lines = []
    basket_lines = basket.all_lines()
    costs = unit_costs({line.stockrecord_id: currency for line in basket_lines if line.stockrecord_id})
    for line in basket_lines:
        # Like the order snapshot: a missing unit cost counts as 0 (and the sale flags it).
        cost = costs.get(line.stockrecord_id, Decimal(0))
        lines.append(allocation.LineInput(
            key=line.pk, revenue_excl_tax=quantize(line.line_price_excl_tax_incl_discounts, currency),
            unit_cost=quantize(cost, currency), quantity=line.quantity))
    if total is None:
        total = basket.total_incl_tax + (shipping or Decimal(0))
    # Shipping and tax pass through, with the fee on them: all that is paid beyond the lines' revenue excl. tax.
    paid = quantize(total, currency)
    fee = promised_fee(amount=paid, currency=currency, pass_through=pass_through(
        paid=paid, revenue_excl_tax=sum((line.revenue_excl_tax for line in lines), Decimal(0))))
    breakdown = allocation.compute_breakdown(currency=currency, lines=lines, fee=fee, share_bps=rule.share_bps,
                                             weights=_weights(rule))
    return Estimate(share_percent=Decimal(rule.share_bps) / 100,
                    amount=quantize(sum((b.donation for b in breakdown), Decimal(0)), currency), currency=currency)


def order_donations(order_ids):
    """``{order_id: (donation, currency)}`` for the orders whose sale was posted (two queries)."""
    order_ids = list(order_ids)
    posted = set(
        LedgerTransaction.objects.filter(order_id__in=order_ids, kind=LedgerTransaction.Kind.SALE)
        .values_list("order_id", flat=True)
    )
    result = {}
    for row in (
        OrderLineBreakdown.objects.filter(order_id__in=posted, completed_at__isnull=False)
        .values("order_id", "currency").annotate(total=Sum("donation")).order_by()
    ):
        result[row["order_id"]] = (quantize(row["total"], row["currency"]), row["currency"])
    return result


def order_donation_detail(order):
    """The posted donation of an order: total, per beneficiary, per line, and its reversals; or None."""
    sale = LedgerTransaction.objects.filter(order=order, kind=LedgerTransaction.Kind.SALE).first()
    breakdowns = list(
        OrderLineBreakdown.objects.filter(order=order).select_related("line", "rule")
        .prefetch_related("parts__beneficiary").order_by("line_id")
    )
    reversals = list(
        LedgerTransaction.objects.filter(order=order, kind__in=LedgerTransaction.CORRECTION_KINDS)
        .prefetch_related("entries__account__beneficiary").order_by("posted_at", "id")
    )
    per_beneficiary = defaultdict(lambda: Decimal(0))
    total = Decimal(0)
    currency = breakdowns[0].currency if breakdowns else order.currency
    for breakdown in breakdowns:
        total += breakdown.donation or 0
        for part in breakdown.parts.all():
            per_beneficiary[part.beneficiary] += part.amount
    reversal_rows = []
    reversed_total = Decimal(0)
    for txn in reversals:
        # A restoration credits back what its reversal debited: it counts negative.
        amount = sum((e.debit - e.credit for e in txn.entries.all() if e.account.beneficiary_id is not None),
                     Decimal(0))
        reversed_total += amount
        reversal_rows.append({"transaction": txn, "amount": quantize(amount, txn.currency)})
    return {
        "sale": sale,
        "breakdowns": breakdowns,
        "currency": currency,
        "total": quantize(total, currency),
        "per_beneficiary": sorted(((b, quantize(a, currency)) for b, a in per_beneficiary.items()),
                                  key=lambda item: item[0].name),
        "reversals": reversal_rows,
        "reversed_total": quantize(reversed_total, currency),
    }
