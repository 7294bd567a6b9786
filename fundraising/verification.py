"""Every ledger invariant of DESIGN "The ledger", checked against the database (read only).

``ledger_violations()`` yields one human-readable line per violation; ``verify_ledger`` prints them,
and the tests (the Hypothesis state machine included) call it after every step.

Sums over amounts are done in SQL on integer ten-thousandths (``ROUND(x * 10000)``): SQLite stores
decimals as floating point, so comparing raw SUMs there could report a rounding artefact as a
violation. Every check streams (``iterator``) or aggregates, so it runs at a million entries.
"""

import hmac
from collections import defaultdict
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Prefetch, Q
from oscar.core.loading import get_model

from fundraising import allocation
from fundraising.db import expected_triggers, installed_triggers
from fundraising.models import (
    Account,
    BalanceCheckpoint,
    BreakdownPart,
    Disbursement,
    Entry,
    LedgerTransaction,
    PAID_ORDER_STATUSES,
    OrderLineBreakdown,
    ReversalLine,
    ReversalLinePart,
    ledger_key,
    transaction_digest,
)
from fundraising.money import quantize

Order = get_model("order", "Order")
Line = get_model("order", "Line")
Source = get_model("payment", "Source")


Kind = LedgerTransaction.Kind
AK = Account.Kind

#: Which accounts each kind of transaction may debit and credit (adjustments may touch any).
ALLOWED_SIDES = {
    Kind.SALE: ({AK.DONATIONS}, {AK.PAYABLE}),
    Kind.REFUND: ({AK.PAYABLE, AK.RECEIVABLE}, {AK.DONATIONS}),
    Kind.DISPUTE: ({AK.PAYABLE, AK.RECEIVABLE}, {AK.DONATIONS}),
    Kind.RESTORATION: ({AK.DONATIONS}, {AK.PAYABLE, AK.RECEIVABLE}),
    Kind.DISBURSEMENT: ({AK.PAYABLE}, {AK.DISBURSED}),
    Kind.PARTNER_SALE: ({AK.DONATIONS}, {AK.PAYABLE}),
    Kind.PARTNER_RETURN: ({AK.PAYABLE, AK.RECEIVABLE}, {AK.DONATIONS}),
}

CHUNK = 500


def _units(column):
    return f"CAST(ROUND({column} * 10000) AS BIGINT)"


def _tables():
    return {
        "entry": Entry._meta.db_table,
        "txn": LedgerTransaction._meta.db_table,
        "account": Account._meta.db_table,
    }


def _rows(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        yield from cursor.fetchall()


def ledger_violations():
    """Yield one line per violated invariant; nothing when the ledger is sound."""
    yield from _check_triggers()
    yield from _check_zero_sum()
    yield from _check_entries()
    yield from _check_sides()
    yield from _check_keys()
    yield from _check_digests()
    yield from _check_reversals()
    yield from _check_balances()
    yield from _check_paid_orders()
    yield from _check_status_follows_money()
    yield from _check_sales_match_breakdowns()
    yield from _check_partner_lines()
    yield from _check_disbursements()
    yield from _check_checkpoint()
    yield from _check_public_chain()


def _check_public_chain():
    # The public ledger's chain (fundraising.chain): links, their content against the rows, recorded heads.
    from fundraising.chain import verify_chain

    yield from verify_chain()


def _check_triggers():
    # Append-only is enforced by triggers; a missing or disabled one means rows could have been edited.
    missing = sorted(expected_triggers(connection.vendor) - installed_triggers(connection))
    for name in missing:
        yield f"append-only: trigger {name} is missing or disabled"


def _check_zero_sum():
    t = _tables()
    sql = f"""
        SELECT s.transaction_id, s.currency, s.debit, s.credit FROM (
            SELECT transaction_id, currency, SUM({_units('debit')}) AS debit, SUM({_units('credit')}) AS credit
            FROM {t['entry']} GROUP BY transaction_id, currency
        ) s WHERE s.debit <> s.credit ORDER BY s.transaction_id
    """
    for txn_id, currency, debit, credit in _rows(sql):
        yield (f"zero-sum: transaction {txn_id} does not balance in {currency}: "
               f"debits {Decimal(debit) / 10000}, credits {Decimal(credit) / 10000}")


def _check_entries():
    t = _tables()
    sql = f"""
        SELECT e.id, e.transaction_id, e.currency, t.currency, a.currency, e.posted_at = t.posted_at,
               {_units('e.debit')}, {_units('e.credit')}
        FROM {t['entry']} e JOIN {t['txn']} t ON t.id = e.transaction_id JOIN {t['account']} a ON a.id = e.account_id
        WHERE e.currency <> t.currency OR e.currency <> a.currency OR e.posted_at <> t.posted_at
           OR NOT ((e.debit > 0 AND e.credit = 0) OR (e.debit = 0 AND e.credit > 0))
        ORDER BY e.id
    """
    for entry_id, txn_id, currency, txn_currency, account_currency, same_time, debit, credit in _rows(sql):
        if currency != txn_currency or currency != account_currency:
            yield (f"currency: entry {entry_id} of transaction {txn_id} is in {currency}, its transaction in "
                   f"{txn_currency}, its account in {account_currency}")
        elif not same_time:
            yield f"entry {entry_id}: posted_at differs from its transaction {txn_id}"
        else:
            yield f"entry {entry_id}: needs exactly one positive side (debit {debit}, credit {credit})"


def _check_sides():
    t = _tables()
    sql = f"""
        SELECT DISTINCT t.id, t.kind, a.kind, CASE WHEN e.debit > 0 THEN 'debit' ELSE 'credit' END
        FROM {t['entry']} e JOIN {t['txn']} t ON t.id = e.transaction_id JOIN {t['account']} a ON a.id = e.account_id
        WHERE t.kind <> 'adjustment' ORDER BY t.id
    """
    for txn_id, kind, account_kind, side in _rows(sql):
        debits, credits = ALLOWED_SIDES[kind]
        allowed = debits if side == "debit" else credits
        if account_kind not in allowed:
            yield f"structure: {kind} transaction {txn_id} has a {side} on a {account_kind} account"


def _check_keys():
    duplicates = (
        LedgerTransaction.objects.values("idempotency_key").annotate(n=Count("id")).filter(n__gt=1).order_by()
    )
    for row in duplicates:
        yield f"idempotency: key {row['idempotency_key']!r} posted {row['n']} times"
    per_order = (
        LedgerTransaction.objects.filter(kind=Kind.SALE).values("order_id").annotate(n=Count("id"))
        .filter(n__gt=1).order_by()
    )
    for row in per_order:
        yield f"idempotency: order id {row['order_id']} has {row['n']} sale transactions"
    for txn_id, kind, key, order_id, number in (
        LedgerTransaction.objects.filter(kind__in=[Kind.SALE, *LedgerTransaction.CORRECTION_KINDS])
        .values_list("id", "kind", "idempotency_key", "order_id", "order__number").iterator(chunk_size=5000)
    ):
        if order_id is None:
            yield f"idempotency: {kind} transaction {txn_id} ({key}) has no order"
        elif kind == Kind.SALE and key != f"sale:{number}":
            yield f"idempotency: sale transaction {txn_id} of order {number} has key {key!r}"


def _check_digests():
    transactions = LedgerTransaction.objects.order_by("id").prefetch_related(
        Prefetch("entries", queryset=Entry.objects.only("transaction_id", "account_id", "debit", "credit"))
    )
    key = ledger_key()
    checked = changed = 0
    for txn in transactions.iterator(chunk_size=CHUNK):
        expected = transaction_digest(
            kind=txn.kind, idempotency_key=txn.idempotency_key, currency=txn.currency, order_id=txn.order_id,
            reference=txn.reference, basis_amount=txn.basis_amount, memo=txn.memo, posted_at=txn.posted_at,
            created_by_id=txn.created_by_id,
            entries=[(e.account_id, e.debit, e.credit) for e in txn.entries.all()], key=key,
        )
        checked += 1
        if not hmac.compare_digest(expected, txn.digest):
            changed += 1
            yield f"append-only: transaction {txn.id} ({txn.idempotency_key}) or its entries changed after posting"
    if checked > 1 and changed == checked:
        yield ("append-only: no digest matches: is P6_LEDGER_KEY the key these transactions were sealed with? "
               "(or was every one rewritten)")


def _check_reversals():
    t = _tables()
    sql = f"""
        SELECT s.order_id, s.beneficiary_id, s.posted, s.reversed FROM (
            SELECT t.order_id, a.beneficiary_id,
                SUM(CASE WHEN t.kind = 'sale' AND a.kind = 'payable' THEN {_units('e.credit')} ELSE 0 END) AS posted,
                SUM(CASE WHEN t.kind IN ('refund', 'dispute', 'restoration') AND a.kind IN ('payable', 'receivable')
                    THEN {_units('e.debit')} - {_units('e.credit')} ELSE 0 END) AS reversed
            FROM {t['entry']} e JOIN {t['txn']} t ON t.id = e.transaction_id
            JOIN {t['account']} a ON a.id = e.account_id
            WHERE t.order_id IS NOT NULL AND a.beneficiary_id IS NOT NULL
            GROUP BY t.order_id, a.beneficiary_id
        ) s WHERE s.reversed > s.posted ORDER BY s.order_id, s.beneficiary_id
    """
    for order_id, beneficiary_id, posted, reversed_ in _rows(sql):
        yield (f"reversal: order id {order_id} reversed {Decimal(reversed_) / 10000} for beneficiary "
               f"{beneficiary_id}, more than the {Decimal(posted) / 10000} posted")
    quantities = defaultdict(int)
    restored = LedgerTransaction.objects.filter(kind=Kind.RESTORATION).values("reference")
    for line_id, quantity in ReversalLine.objects.exclude(transaction__idempotency_key__in=restored).values_list(
        "line_id", "quantity"
    ).iterator(chunk_size=5000):
        quantities[line_id] += quantity
    if quantities:
        for line_id, line_quantity in Line.objects.filter(pk__in=list(quantities)).values_list("pk", "quantity"):
            if quantities[line_id] > line_quantity:
                yield f"reversal: line {line_id} reversed for {quantities[line_id]} items, it had {line_quantity}"
    restored_ids = set(LedgerTransaction.objects.filter(idempotency_key__in=restored).values_list("id", flat=True))
    reversed_parts = defaultdict(lambda: Decimal(0))
    per_txn = defaultdict(lambda: Decimal(0))
    for line_id, beneficiary_id, txn_id, amount in ReversalLinePart.objects.values_list(
        "reversal_line__line_id", "beneficiary_id", "reversal_line__transaction_id", "amount"
    ).iterator(chunk_size=5000):
        if txn_id not in restored_ids:  # a restored reversal gave its parts back
            reversed_parts[(line_id, beneficiary_id)] += amount
        per_txn[(txn_id, beneficiary_id)] += amount
    if reversed_parts:
        posted = {
            (line_id, beneficiary_id): amount
            for line_id, beneficiary_id, amount in BreakdownPart.objects.filter(
                breakdown__line_id__in={line for line, _ in reversed_parts}
            ).values_list("breakdown__line_id", "beneficiary_id", "amount")
        }
        for (line_id, beneficiary_id), amount in sorted(reversed_parts.items()):
            if amount > posted.get((line_id, beneficiary_id), Decimal(0)):
                yield (f"reversal: line {line_id} reversed {amount} for beneficiary {beneficiary_id}, more than its "
                       f"part {posted.get((line_id, beneficiary_id), Decimal(0))}")
        debits = defaultdict(lambda: Decimal(0))
        for txn_id, beneficiary_id, debit in Entry.objects.filter(
            transaction_id__in={txn for txn, _ in per_txn}, debit__gt=0
        ).values_list("transaction_id", "account__beneficiary_id", "debit"):
            debits[(txn_id, beneficiary_id)] += debit
        for key in sorted(set(per_txn) | set(debits)):
            if per_txn.get(key, Decimal(0)) != debits.get(key, Decimal(0)):
                yield (f"reversal: transaction {key[0]} debits {debits.get(key, Decimal(0))} for beneficiary {key[1]} "
                       f"but its lines say {per_txn.get(key, Decimal(0))}")


def _check_balances():
    # In id order, since every debit of a payable is made under its lock after reading the credits
    # committed before it (which therefore have lower ids), so the running balance can never dip below 0.
    t = _tables()
    sql = f"""
        SELECT r.account_id, r.kind, MIN(r.running) FROM (
            SELECT e.account_id, a.kind, SUM(
                CASE WHEN a.kind IN ('payable', 'disbursed') THEN {_units('e.credit')} - {_units('e.debit')}
                     ELSE {_units('e.debit')} - {_units('e.credit')} END
            ) OVER (PARTITION BY e.account_id ORDER BY e.id ROWS UNBOUNDED PRECEDING) AS running
            FROM {t['entry']} e JOIN {t['account']} a ON a.id = e.account_id
            WHERE a.beneficiary_id IS NOT NULL
        ) r GROUP BY r.account_id, r.kind HAVING MIN(r.running) < 0 ORDER BY r.account_id
    """
    for account_id, kind, lowest in _rows(sql):
        account = Account.objects.select_related("beneficiary").get(pk=account_id)
        yield f"balance: {kind} account {account.code} {account.currency} went down to {Decimal(lowest) / 10000}"


def _check_paid_orders():
    paid = Order.objects.filter(Q(status__in=PAID_ORDER_STATUSES) | Q(sources__amount_debited__gt=0)).distinct()
    sold = LedgerTransaction.objects.filter(kind=Kind.SALE)
    for number, status in (
        paid.exclude(pk__in=sold.values("order_id")).order_by("number").values_list("number", "status")
    ):
        yield f"sale: paid order {number} (status {status!r}) has no sale transaction"
    for number, status in (
        Order.objects.filter(pk__in=sold.values("order_id")).exclude(pk__in=paid.values("pk"))
        .order_by("number").values_list("number", "status")
    ):
        yield f"sale: order {number} has a sale transaction but is not paid (status {status!r}, nothing debited)"


def _check_status_follows_money():
    """An order whose status says paid has a booked payment (a payment Source with money debited), and an
    order pending payment or cancelled has none: nothing a staff member clicked can separate the two."""
    debited = Source.objects.filter(amount_debited__gt=0).values("order_id")
    for number, status in (
        Order.objects.filter(status__in=PAID_ORDER_STATUSES).exclude(pk__in=debited)
        .order_by("number").values_list("number", "status")
    ):
        yield f"status: order {number} is {status!r} but no payment was booked for it"
    for number, status in (
        Order.objects.exclude(status__in=PAID_ORDER_STATUSES).filter(pk__in=debited)
        .order_by("number").values_list("number", "status")
    ):
        yield f"status: order {number} is {status!r} but a payment was booked for it"


def _check_sales_match_breakdowns():
    sales = (
        LedgerTransaction.objects.filter(kind=Kind.SALE)
        .select_related("order")
        .annotate(line_count=Count("order__lines", distinct=True))
        .prefetch_related(
            Prefetch("entries", queryset=Entry.objects.select_related("account")),
            Prefetch(
                "order__donation_breakdowns",
                queryset=OrderLineBreakdown.objects.order_by("line_id").select_related("line")
                .prefetch_related("parts"),
            ),
        )
        .order_by("id")
    )
    for sale in sales.iterator(chunk_size=CHUNK):
        yield from _sale_matches(sale)


def _sale_matches(sale):
    number = sale.order.number
    rows = list(sale.order.donation_breakdowns.all())
    if len(rows) != sale.line_count:
        yield f"breakdown: order {number} has {sale.line_count} lines but {len(rows)} breakdown rows"
        return
    if any(row.completed_at is None for row in rows):
        yield f"breakdown: order {number} has a sale transaction but an incomplete breakdown"
        return
    currency = sale.currency
    # The breakdown's inputs against Oscar's order lines: a breakdown row rewritten in place (revenue and unit
    # cost moved together keep the arithmetic right) no longer matches the line the fan bought.
    for row in rows:
        line = row.line
        if row.quantity != line.quantity or row.revenue_excl_tax != quantize(line.line_price_excl_tax, currency):
            yield (f"breakdown: line {row.line_id} of order {number} says {row.quantity} for "
                   f"{quantize(row.revenue_excl_tax, currency)} {currency}, but the order line is {line.quantity} for "
                   f"{quantize(line.line_price_excl_tax, currency)} {currency}")
    credits = defaultdict(lambda: Decimal(0))
    donations = Decimal(0)
    for entry in sale.entries.all():
        if entry.account.kind == AK.PAYABLE:
            credits[entry.account.beneficiary_id] += entry.credit
        elif entry.account.kind == AK.DONATIONS:
            donations += entry.debit
    parts = defaultdict(lambda: Decimal(0))
    for row in rows:
        row_parts = list(row.parts.all())
        if row_parts and sum((p.amount for p in row_parts), Decimal(0)) != row.donation:
            yield f"breakdown: line {row.line_id} of order {number}: parts do not add up to its donation {row.donation}"
        if not row_parts and row.donation != 0:
            yield f"breakdown: line {row.line_id} of order {number} donates {row.donation} to nobody"
        for part in row_parts:
            parts[part.beneficiary_id] += part.amount
    for beneficiary_id in sorted(set(parts) | set(credits)):
        if parts.get(beneficiary_id, Decimal(0)) != credits.get(beneficiary_id, Decimal(0)):
            yield (f"sale: order {number} credits {credits.get(beneficiary_id, Decimal(0))} to beneficiary "
                   f"{beneficiary_id} but its breakdown gives {parts.get(beneficiary_id, Decimal(0))}")
    total = sum((row.donation for row in rows), Decimal(0))
    if donations != total:
        yield f"sale: order {number} debits donations {donations} but its breakdown donates {total}"
    # Recompute every figure from the stored inputs, as an auditor would.
    weights = {}
    for row in rows:
        for part in row.parts.all():
            weights[part.beneficiary_id] = part.weight
    try:
        results = allocation.compute_breakdown(
            currency=currency,
            lines=[
                allocation.LineInput(key=row.line_id, revenue_excl_tax=row.revenue_excl_tax,
                                     unit_cost=row.unit_cost, quantity=row.quantity)
                for row in rows
            ],
            fee=sum((row.fee_share for row in rows), Decimal(0)),
            share_bps=rows[0].share_bps,
            weights=sorted(weights.items()) or [(0, 1)],
        )
    except (TypeError, ValueError) as error:
        yield f"breakdown: order {number} cannot be recomputed: {error}"
        return
    for row, result in zip(rows, results, strict=True):
        stored = (row.fee_share, row.profit, row.donation, {p.beneficiary_id: p.amount for p in row.parts.all()})
        again = (result.fee_share, result.profit, result.donation, dict(result.parts) if weights else {})
        if stored != again:
            yield (f"breakdown: line {row.line_id} of order {number} does not recompute: stored {stored}, "
                   f"computed {again}")


def _check_disbursements():
    for disbursement in Disbursement.objects.select_related("transaction").prefetch_related(
        "transaction__entries__account"
    ).iterator(chunk_size=CHUNK):
        txn = disbursement.transaction
        entries = {(e.account.kind, e.account.beneficiary_id, e.debit, e.credit) for e in txn.entries.all()}
        expected = {
            (AK.PAYABLE, disbursement.beneficiary_id, disbursement.amount, Decimal(0)),
            (AK.DISBURSED, disbursement.beneficiary_id, Decimal(0), disbursement.amount),
        }
        if txn.kind != Kind.DISBURSEMENT or entries != expected or txn.currency != disbursement.currency:
            yield f"disbursement {disbursement.pk}: its transaction {txn.pk} does not match it"


def _check_checkpoint():
    checkpoint = BalanceCheckpoint.objects.order_by("-upto_entry_id").first()
    if checkpoint is None:
        return
    t = _tables()
    sql = f"""
        SELECT e.account_id, t.kind, SUM({_units('e.debit')}), SUM({_units('e.credit')})
        FROM {t['entry']} e JOIN {t['txn']} t ON t.id = e.transaction_id
        WHERE e.id <= %s GROUP BY e.account_id, t.kind
    """
    actual = {
        (account_id, kind): (debit, credit)
        for account_id, kind, debit, credit in _rows(sql, [checkpoint.upto_entry_id])
    }
    stored = {
        (row.account_id, row.kind): (int(row.debit * 10000), int(row.credit * 10000))
        for row in checkpoint.totals.all()
    }
    for key in sorted(set(actual) | set(stored)):
        if actual.get(key, (0, 0)) != stored.get(key, (0, 0)):
            yield (f"checkpoint {checkpoint.upto_entry_id}: account {key[0]} {key[1]} totals "
                   f"{stored.get(key)} differ from the entries' {actual.get(key)} (in 1/10000)")


def _check_partner_lines():
    """Every partner report line posted once, under its key, its transaction equal to its stored split, a sale's
    figures equal to a recomputation, and no SKU's returns beyond what its sales posted (issue 19)."""
    from fundraising.models import PartnerSaleLine

    for txn_id, key in (
        LedgerTransaction.objects.filter(kind__in=LedgerTransaction.PARTNER_KINDS, partner_line__isnull=True)
        .values_list("id", "idempotency_key")
    ):
        yield f"partner: transaction {txn_id} ({key}) has no report line"
    for txn_id, kind, key in (
        LedgerTransaction.objects.filter(idempotency_key__startswith="partner:")
        .exclude(kind__in=LedgerTransaction.PARTNER_KINDS).values_list("id", "kind", "idempotency_key")
    ):
        yield f"partner: {kind} transaction {txn_id} has the partner key {key!r}"
    lines = PartnerSaleLine.objects.select_related("partner", "transaction", "rule").prefetch_related(
        "parts", Prefetch("transaction__entries", queryset=Entry.objects.select_related("account")),
        "rule__allocations",
    ).order_by("id")
    posted = defaultdict(lambda: Decimal(0))
    reversed_ = defaultdict(lambda: Decimal(0))
    for line in lines.iterator(chunk_size=CHUNK):
        yield from _partner_line_matches(line)
        for part in line.parts.all():
            target = reversed_ if line.quantity < 0 else posted
            target[(line.partner.slug, line.sku, line.currency, part.beneficiary_id)] += part.amount
    for key in sorted(reversed_):
        if reversed_[key] > posted.get(key, Decimal(0)):
            yield (f"partner: returns of {key[1]} in {key[2]} from {key[0]} reversed {reversed_[key]} for beneficiary "
                   f"{key[3]}, more than the {posted.get(key, Decimal(0))} posted")


def _partner_line_matches(line):
    txn = line.transaction
    name = f"partner line {line.partner.slug}:{line.line_id}"
    is_return = line.quantity < 0
    expected_kind = Kind.PARTNER_RETURN if is_return else Kind.PARTNER_SALE
    if txn.kind != expected_kind or txn.idempotency_key != f"partner:{line.partner.slug}:{line.line_id}":
        yield f"partner: {name} posted as {txn.kind} {txn.idempotency_key!r}"
    if txn.currency != line.currency:
        yield f"partner: {name} is in {line.currency}, its transaction in {txn.currency}"
    parts = {part.beneficiary_id: part.amount for part in line.parts.all()}
    if sum(parts.values(), Decimal(0)) != line.donation:
        yield f"partner: {name}: parts sum to {sum(parts.values(), Decimal(0))}, its donation is {line.donation}"
    beneficiary_side, campaign_side = defaultdict(lambda: Decimal(0)), Decimal(0)
    for entry in txn.entries.all():
        if entry.account.beneficiary_id is None:
            campaign_side += entry.credit - entry.debit if is_return else entry.debit - entry.credit
        else:
            beneficiary_side[entry.account.beneficiary_id] += (
                entry.debit - entry.credit if is_return else entry.credit - entry.debit)
    entered = {b: amount for b, amount in beneficiary_side.items() if amount}
    if entered != {b: amount for b, amount in parts.items() if amount} or campaign_side != line.donation:
        yield (f"partner: {name}: its transaction {txn.id} moves {campaign_side} ({dict(sorted(entered.items()))}), "
               f"its stored split says {line.donation} ({dict(sorted(parts.items()))})")
    if is_return:
        return
    if line.rule is None:
        yield f"partner: {name} is a sale without a share rule"
        return
    allocations = sorted(line.rule.allocations.all(), key=lambda a: a.beneficiary_id)
    weights = [(a.beneficiary_id, a.weight) for a in allocations]
    try:
        [result] = allocation.compute_breakdown(
            currency=line.currency,
            lines=[allocation.LineInput(key=0, revenue_excl_tax=quantize(line.revenue, line.currency),
                                        unit_cost=quantize(line.unit_cost, line.currency), quantity=line.quantity)],
            fee=quantize(line.fee, line.currency), share_bps=line.share_bps, weights=weights,
        )
    except (TypeError, ValueError) as error:
        yield f"partner: {name} cannot be recomputed: {error}"
        return
    if (line.share_bps != line.rule.share_bps or line.revenue != line.unit_price * line.quantity
            or result.profit != line.profit or result.donation != line.donation
            or {b: a for b, a in result.parts if a} != {b: a for b, a in parts.items() if a}):
        yield (f"partner: {name}: stored profit {line.profit}, donation {line.donation}, parts "
               f"{dict(sorted(parts.items()))}; recomputed {result.profit}, {result.donation}, {dict(result.parts)}")
