"""Sales: the order's breakdown snapshot when it is placed, and its donation when it is paid.

``snapshot_order`` runs inside the order placement transaction, ``post_sale`` inside the
payment-captured one; together they write every line's figures (``OrderLineBreakdown``, its parts) and
the one ``sale:<order number>`` transaction per order, with ``allocation.compute_breakdown`` doing the
arithmetic. A sale locks nothing but its own order row (see ``ledger``).
"""

from collections import defaultdict
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from catalog.selectors import unit_costs
from fundraising import allocation
from fundraising.exceptions import LedgerError
from fundraising.fees import pass_through, sale_fee
from fundraising.models import Account, BreakdownPart, OrderLineBreakdown
from fundraising.money import Fee, normalise, quantize
from fundraising.selectors import rule_in_force
from fundraising.services.ledger import (
    ZERO,
    Kind,
    _account,
    _amount,
    _existing,
    lock_order,
    _payable_accounts,
    _post,
)


def snapshot_order(*, order):
    """Write the breakdown snapshot of every line of ``order`` (DESIGN "A sale, end to end", step 2).

    Called inside the order placement transaction. Per line: currency, quantity, revenue excluding tax
    after discounts (Oscar's ``Line.line_price_excl_tax``, which ``OrderCreator`` fills from the basket
    line's ``line_price_excl_tax_incl_discounts``), the unit cost of its stock record
    (``catalog.UnitCost``; 0 and ``unit_cost_missing`` when there is none, or it is in another
    currency), and the share rule in force now with its share. With no rule in force the share is 0
    (no donation) and the rows are written all the same, so the order's figures exist.

    Invariant: one row per order line, written once: lines that already have a row keep it (the first
    snapshot is the history), so a second call writes nothing. Returns the order's rows by line id.
    Raises ``Order.DoesNotExist`` for an unsaved order.
    """
    with transaction.atomic():
        locked = lock_order(order)
        return _snapshot(order=locked, rule_at=timezone.now(), late=False)


def post_sale(*, order, fee: Fee):
    """Complete the order's breakdown and post its donation: one sale transaction per order, ever.

    Called inside the payment-captured transaction. ``fee``: a ``Fee`` whose amount is the payment fee in
    the order currency (a Decimal at its minor unit), flagged as ``fee.estimated`` says; or whose amount is
    None, to estimate it from the fee schedule on the order total including tax (then flagged estimated
    whatever ``fee.estimated`` says). Computes every line's fee share, profit, donation and beneficiary parts
    with ``allocation.compute_breakdown`` and posts the transaction ``sale:<order number>``: debit the
    campaign donations account with the order's donation, credit each beneficiary's payable with its
    parts. A zero donation is still posted, as a transaction with no entries (and parts of 0), so that
    every paid order has its sale transaction. An order placed without a snapshot gets one now, with the
    rule in force when it was placed (flagged ``snapshotted_late``).

    Idempotent: a second call returns the existing transaction and writes nothing.
    Raises ``TypeError``/``ValueError`` (``CurrencyError``) for a bad fee (``TypeError`` for one that is
    not a ``Fee``), ``IdempotencyConflict`` if
    the key belongs to another posting, ``LedgerError`` if the breakdown is inconsistent.
    """
    with transaction.atomic():
        order = lock_order(order)
        key = f"sale:{order.number}"
        existing = _existing(key, kind=Kind.SALE, order=order)
        if existing is not None:
            return existing
        currency = normalise(order.currency)
        captured = _oscar_amount(order.total_incl_tax, currency)
        rows = _breakdowns_for_capture(order)
        # The one fee rule (fundraising.fees), which the promise before payment follows too. Shipping and tax
        # are pass-through, and so is the fee on them: all that was paid beyond the lines' revenue excluding tax.
        posted = sale_fee(reported=fee, amount=captured, currency=currency, pass_through=pass_through(
            paid=captured, revenue_excl_tax=sum((row.revenue_excl_tax for row in rows), ZERO)))
        estimated, fee = posted.estimated, _amount("fee", posted.amount, currency)

        rule = rows[0].rule
        share_bps = rows[0].share_bps
        if rule is None:
            # No rule, no beneficiaries: the share is 0, so this placeholder weight never receives anything.
            weights = [(0, 1)]
        else:
            weights = [(a.beneficiary_id, a.weight) for a in rule.allocations.order_by("beneficiary_id")]
        results = allocation.compute_breakdown(
            currency=currency,
            lines=[
                allocation.LineInput(
                    key=row.line_id, revenue_excl_tax=row.revenue_excl_tax, unit_cost=row.unit_cost,
                    quantity=row.quantity,
                )
                for row in rows
            ],
            fee=fee,
            share_bps=share_bps,
            weights=weights,
        )

        now = timezone.now()
        weight_of = dict(weights)
        per_beneficiary = defaultdict(lambda: ZERO)
        parts = []
        for row, result in zip(rows, results, strict=True):
            # One UPDATE for all lines below (bulk_update): _breakdowns_for_capture checked, under the
            # order's lock, that none was completed, and nobody completes one without that lock.
            row.fee_share, row.fee_estimated, row.profit = result.fee_share, estimated, result.profit
            row.donation, row.completed_at = result.donation, now
            if rule is not None:
                for beneficiary_id, amount in result.parts:
                    parts.append(BreakdownPart(
                        breakdown_id=row.pk, beneficiary_id=beneficiary_id, weight=weight_of[beneficiary_id],
                        amount=amount,
                    ))
                    per_beneficiary[beneficiary_id] += amount
        OrderLineBreakdown.objects.bulk_update(
            rows, ["fee_share", "fee_estimated", "profit", "donation", "completed_at"]
        )
        BreakdownPart.objects.bulk_create(parts)

        donation = quantize(sum(per_beneficiary.values(), ZERO), currency)
        entries = []
        if donation > 0:
            entries.append((_account(Account.Kind.DONATIONS, currency), donation, ZERO))
            receiving = sorted(b for b, amount in per_beneficiary.items() if amount > 0)
            payables = _payable_accounts(currency, receiving)
            for beneficiary_id in receiving:
                entries.append((payables[beneficiary_id], ZERO, per_beneficiary[beneficiary_id]))
        profit = quantize(sum((r.profit for r in results), ZERO), currency)
        memo = (
            f"Sale of order {order.number}: donation {donation} {currency} = {share_bps / 100:g} % of "
            f"profit {profit} {currency}; payment fee {fee} {currency} "
            f"({'estimated' if estimated else 'reported by the gateway'})"
        )
        if rule is None:
            memo += "; no share rule was in force when the order was placed"
        missing = [row.line_id for row in rows if row.unit_cost_missing]
        if missing:
            memo += f"; unit cost missing (0 used) for lines {', '.join(map(str, missing))}"
        return _post(
            kind=Kind.SALE, key=key, currency=currency, entries=entries, order=order, basis_amount=captured,
            memo=memo,
        )


def _oscar_amount(value, currency):
    # Oscar stores every price with 2 decimals whatever the currency: bring it to the currency's minor unit.
    return quantize(Decimal(value), currency)


def _snapshot(*, order, rule_at, late):
    currency = normalise(order.currency)
    existing = list(OrderLineBreakdown.objects.filter(order=order).select_related("rule"))
    done = {row.line_id for row in existing}
    # All lines of one order share one rule: a later call for a missing line reuses the first one's.
    rule = existing[0].rule if existing else rule_in_force(at=rule_at)
    lines = [line for line in order.lines.order_by("pk") if line.pk not in done]
    costs = unit_costs({line.stockrecord_id: currency for line in lines if line.stockrecord_id})
    now = timezone.now()
    rows = []
    for line in lines:
        cost = costs.get(line.stockrecord_id)
        missing = cost is None
        rows.append(OrderLineBreakdown(
            line=line, order=order, currency=currency, quantity=line.quantity,
            revenue_excl_tax=_oscar_amount(line.line_price_excl_tax, currency),
            unit_cost=ZERO if missing else _oscar_amount(cost, currency),
            unit_cost_missing=missing, rule=rule, share_bps=rule.share_bps if rule else 0,
            snapshotted_at=now, snapshotted_late=late,
        ))
    OrderLineBreakdown.objects.bulk_create(rows)
    return list(OrderLineBreakdown.objects.filter(order=order).select_related("rule").order_by("line_id"))


def _breakdowns_for_capture(order):
    line_ids = set(order.lines.values_list("pk", flat=True))
    if not line_ids:
        raise LedgerError(f"order {order.number} has no lines")
    rows = list(OrderLineBreakdown.objects.filter(order=order).select_related("rule").order_by("line_id"))
    if {row.line_id for row in rows} != line_ids:
        # Placed without a snapshot (placement code not wired, or an order from before the ledger):
        # take it now with the rule that was in force when the order was placed.
        rows = _snapshot(order=order, rule_at=order.date_placed, late=True)
    if any(row.completed_at for row in rows):
        raise LedgerError(f"order {order.number} has a completed breakdown but no sale transaction")
    if len({(row.rule_id, row.share_bps) for row in rows}) != 1:
        raise LedgerError(f"the lines of order {order.number} were snapshotted under different rules")
    return rows
