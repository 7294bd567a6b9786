"""Reversals: what a refund or a lost dispute takes back from the donation, and its restoration.

``post_reversal`` (pro-rata to the amount, or by line with ``line_quantities``), ``preview_reversal``
(the same figures, rolled back, for the staff confirmation page) and ``post_restoration`` (a refund
that failed after it succeeded). A reversal never takes back more than its sale posted, and never
drives a payable below zero: what was already paid out goes to the beneficiary's receivable.
"""

import uuid
from collections import defaultdict
from collections.abc import Mapping
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum

from fundraising import allocation
from fundraising.exceptions import SaleNotPosted
from fundraising.models import (
    Account,
    Entry,
    LedgerTransaction,
    OrderLineBreakdown,
    ReversalLine,
    ReversalLinePart,
)
from fundraising.money import normalise, quantize
from fundraising.selectors import account_balance
from fundraising.services.ledger import (
    ZERO,
    Kind,
    _account,
    _amount,
    _checked_key,
    _existing,
    _lock_accounts,
    lock_order,
    _post,
)


def post_reversal(*, order, key, kind, amount, line_quantities=None):
    """Reverse the donation of a refund or a lost dispute, once per ``key``, never beyond what was posted.

    ``kind``: ``"refund"`` or ``"dispute"``; ``key``: e.g. ``refund:re_123`` / ``dispute:dp_123``
    (the part after the first colon is stored as the reference); ``amount``: the money refunded or lost
    by this event, in the order currency. With ``line_quantities`` (``{order line id: quantity}``) the
    named lines' parts are reversed pro-rata to the quantity (cumulatively per line, capped at the
    line's quantity); without, the order's donation is reversed pro-rata to the cumulative amount
    refunded out of the captured total (``allocation.reversal_parts``: a series of refunds adding up to
    the captured total reverses exactly what was posted). Either way each beneficiary's reversals are
    capped at what its sale credited, and the transaction records ``amount`` as its basis.

    Entries: debit each beneficiary's payable, credit the campaign donations account. A payable is
    never driven below zero: when part of the reversal was already disbursed, the payable gives what
    it holds and the rest is debited to the beneficiary's RECEIVABLE account (money paid out for a sale
    that was then refunded), and the memo says so. Nothing to reverse (zero donation, or everything
    already reversed) still records the transaction, with no entries, so the key is used once.

    Idempotent: a second call with the same key returns the existing transaction and writes nothing.
    Raises ``ValueError`` for a bad kind, key, amount or ``line_quantities`` (a line not of this order,
    a quantity below 1); ``SaleNotPosted`` if the order has no sale transaction;
    ``IdempotencyConflict`` if the key belongs to another order or kind.
    """
    if kind not in LedgerTransaction.REVERSAL_KINDS:
        raise ValueError(f"kind must be 'refund' or 'dispute', not {kind!r}")
    key = _checked_key(key)
    with transaction.atomic():
        order = lock_order(order)
        existing = _existing(key, kind=kind, order=order)
        if existing is not None:
            return existing
        currency = normalise(order.currency)
        amount = _amount("amount", amount, currency, positive=True)
        sale = LedgerTransaction.objects.filter(order=order, kind=Kind.SALE).first()
        if sale is None:
            raise SaleNotPosted(f"order {order.number} has no sale transaction: there is nothing to reverse")

        posted = _beneficiary_sums(
            Entry.objects.filter(transaction=sale, account__kind=Account.Kind.PAYABLE), "credit"
        )
        restored = _restored_keys(order)
        prior = [
            txn for txn in LedgerTransaction.objects.filter(order=order, kind__in=LedgerTransaction.REVERSAL_KINDS)
            if txn.idempotency_key not in restored
        ]
        reversed_so_far = _beneficiary_sums(
            Entry.objects.filter(
                transaction__in=prior, account__kind__in=[Account.Kind.PAYABLE, Account.Kind.RECEIVABLE]
            ),
            "debit",
        )
        notes = []
        if line_quantities is None:
            refunded_total = quantize(sum((p.basis_amount for p in prior), ZERO) + amount, currency)
            parts = {}
            if posted and sale.basis_amount > 0:
                parts = allocation.reversal_parts(
                    posted=posted, reversed_so_far=reversed_so_far, refunded_total=refunded_total,
                    captured_total=quantize(sale.basis_amount, currency), currency=currency,
                )
            if refunded_total > sale.basis_amount:
                notes.append(
                    f"refunded in total {refunded_total} of {quantize(sale.basis_amount, currency)} captured: "
                    "capped at everything posted"
                )
            line_records = []
        else:
            parts, line_records = _by_line_parts(
                order=order, line_quantities=line_quantities, posted=posted,
                reversed_so_far=reversed_so_far, currency=currency, notes=notes,
            )

        entries = _reversal_entries(parts=parts, currency=currency, notes=notes)
        reversed_total = quantize(sum((e[1] for e in entries), ZERO), currency)
        verb = "refunded" if kind == Kind.REFUND else "lost in a dispute"
        memo = f"{amount} {currency} of order {order.number} {verb}; donation reversed {reversed_total} {currency}"
        if line_records:
            memo += "; lines " + ", ".join(f"{line.pk}×{quantity}" for line, quantity, _ in line_records)
        if notes:
            memo += "; " + "; ".join(notes)
        txn = _post(
            kind=kind, key=key, currency=currency, entries=entries, order=order,
            reference=key.split(":", 1)[-1], basis_amount=amount, memo=memo,
        )
        for line, quantity, line_parts in line_records:
            record = ReversalLine.objects.create(transaction=txn, line=line, quantity=quantity)
            ReversalLinePart.objects.bulk_create(
                ReversalLinePart(reversal_line=record, beneficiary_id=beneficiary_id, amount=part)
                for beneficiary_id, part in sorted(line_parts.items())
            )
        return txn


class _PreviewDone(Exception):
    pass


def preview_reversal(*, order, amount, line_quantities=None):
    """What ``post_reversal`` would take back from each beneficiary if a refund of ``amount`` (of these lines)
    were recorded now: ``{beneficiary: amount}``. Computed by the very same code, in a transaction that is
    rolled back, so the figure staff confirm is the figure posted. Raises what ``post_reversal`` raises."""
    parts = {}
    try:
        with transaction.atomic():
            txn = post_reversal(order=order, key=f"preview:{uuid.uuid4().hex}", kind=Kind.REFUND, amount=amount,
                                line_quantities=line_quantities)
            for entry in txn.entries.select_related("account__beneficiary"):
                if entry.account.beneficiary_id is not None:
                    beneficiary = entry.account.beneficiary
                    parts[beneficiary] = parts.get(beneficiary, ZERO) + entry.debit
            raise _PreviewDone
    except _PreviewDone:
        pass
    return parts


def post_restoration(*, order, reversal_key):
    """Undo one reversal, once: a refund that Stripe reports failed (or canceled) after it had succeeded
    gives the money back to the sale, so the donation it took back is restored.

    The restoration mirrors the reversal's entries (credit each payable or receivable it debited, debit
    the donations account), its key is ``restore:<the reversal's key>`` and its reference the reversal's
    key; later reversals of the order no longer count the restored one. Idempotent per reversal.
    Raises ``ValueError`` when ``reversal_key`` is not a refund or dispute reversal of ``order``.
    """
    key = _checked_key(f"restore:{reversal_key}")
    with transaction.atomic():
        order = lock_order(order)
        existing = _existing(key, kind=Kind.RESTORATION, order=order)
        if existing is not None:
            return existing
        reversal = LedgerTransaction.objects.filter(
            order=order, idempotency_key=reversal_key, kind__in=LedgerTransaction.REVERSAL_KINDS
        ).first()
        if reversal is None:
            raise ValueError(f"{reversal_key!r} is not a reversal of order {order.number}")
        entries = [(e.account, e.credit, e.debit) for e in reversal.entries.select_related("account")]
        _lock_accounts([account for account, _, _ in entries])
        restored = quantize(sum((e[2] for e in entries if e[0].beneficiary_id is not None), ZERO), reversal.currency)
        memo = (f"{reversal.reference} failed after it succeeded: the {restored} {reversal.currency} reversed for "
                f"order {order.number} is restored")
        return _post(
            kind=Kind.RESTORATION, key=key, currency=reversal.currency, entries=entries, order=order,
            reference=reversal_key, basis_amount=reversal.basis_amount, memo=memo,
        )


def _restored_keys(order):
    return set(LedgerTransaction.objects.filter(order=order, kind=Kind.RESTORATION).values_list("reference", flat=True))


def _beneficiary_sums(entries, side):
    """``{beneficiary id: sum of side}`` over entries of beneficiary accounts, by beneficiary id."""
    rows = (
        entries.values("account__beneficiary_id").annotate(total=Sum(side)).order_by("account__beneficiary_id")
    )
    return {row["account__beneficiary_id"]: row["total"] for row in rows if row["total"]}


def _by_line_parts(*, order, line_quantities, posted, reversed_so_far, currency, notes):
    """Per beneficiary, what a by-line refund reverses; and ``[(line, quantity, {beneficiary: part})]``."""
    if not isinstance(line_quantities, Mapping) or not line_quantities:
        raise ValueError("line_quantities must be a non-empty mapping of order line id to quantity")
    lines = {line.pk: line for line in order.lines.all()}
    for line_id, quantity in line_quantities.items():
        if line_id not in lines:
            raise ValueError(f"line {line_id!r} is not a line of order {order.number}")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise ValueError(f"the quantity of line {line_id} must be a positive int, got {quantity!r}")
    breakdowns = {
        row.line_id: row
        for row in OrderLineBreakdown.objects.filter(line_id__in=list(line_quantities)).prefetch_related("parts")
    }
    restored = _restored_keys(order)
    done_quantity = {
        row["line_id"]: row["total"]
        for row in ReversalLine.objects.filter(transaction__order=order)
        .exclude(transaction__idempotency_key__in=restored).values("line_id").annotate(total=Sum("quantity"))
    }
    done_parts = {
        (row["reversal_line__line_id"], row["beneficiary_id"]): row["total"]
        for row in ReversalLinePart.objects.filter(reversal_line__transaction__order=order)
        .exclude(reversal_line__transaction__idempotency_key__in=restored)
        .values("reversal_line__line_id", "beneficiary_id")
        .annotate(total=Sum("amount"))
    }
    # What each beneficiary can still give back for this order, whichever way it was reversed before.
    room = {b: posted[b] - reversed_so_far.get(b, ZERO) for b in posted}
    totals = defaultdict(lambda: ZERO)
    records = []
    for line_id in sorted(line_quantities):
        line = lines[line_id]
        asked = line_quantities[line_id]
        before = done_quantity.get(line_id, 0)
        quantity = min(asked, line.quantity - before)
        if quantity < asked:
            notes.append(f"line {line_id}: {asked} asked, {max(quantity, 0)} of {line.quantity} left to reverse")
        if quantity <= 0:
            continue
        row = breakdowns.get(line_id)
        line_posted = {
            part.beneficiary_id: part.amount
            for part in sorted(row.parts.all(), key=lambda p: p.beneficiary_id) if part.amount > 0
        } if row else {}
        line_parts = {}
        if line_posted:
            wanted = allocation.reversal_parts(
                posted=line_posted,
                reversed_so_far={b: done_parts.get((line_id, b), ZERO) for b in line_posted},
                refunded_total=Decimal(before + quantity),
                captured_total=Decimal(line.quantity),
                currency=currency,
            )
            for beneficiary_id, part in wanted.items():
                allowed = min(part, room.get(beneficiary_id, ZERO) - totals[beneficiary_id])
                if allowed < part:
                    notes.append(f"line {line_id}: beneficiary {beneficiary_id} capped at {allowed} (already reversed)")
                line_parts[beneficiary_id] = allowed
                totals[beneficiary_id] += allowed
        records.append((line, quantity, line_parts))
    return {b: quantize(totals[b], currency) for b in sorted(totals)}, records


def _reversal_entries(*, parts, currency, notes):
    """Entries of a reversal: payables (locked, never below zero), receivables for the rest, donations."""
    positive = {b: part for b, part in sorted(parts.items()) if part > 0}
    if not positive:
        return []
    payables = {b: _account(Account.Kind.PAYABLE, currency, beneficiary_id=b) for b in positive}
    _lock_accounts(payables.values())
    entries = []
    for beneficiary_id, part in positive.items():
        payable = payables[beneficiary_id]
        balance = max(account_balance(account=payable), ZERO)
        from_payable = min(part, balance)
        shortfall = part - from_payable
        if from_payable > 0:
            entries.append((payable, from_payable, ZERO))
        if shortfall > 0:
            # Already paid out: the payable cannot go below zero, so the beneficiary now holds money for a
            # refunded sale. Recorded as a receivable; staff decide whether to net it against later payouts.
            receivable = _account(Account.Kind.RECEIVABLE, currency, beneficiary_id=beneficiary_id)
            entries.append((receivable, shortfall, ZERO))
            notes.append(
                f"{payable.beneficiary.slug}: payable held {balance} {currency}, {shortfall} {currency} "
                "already disbursed debited to its receivable"
            )
    total = quantize(sum(positive.values(), ZERO), currency)
    entries.append((_account(Account.Kind.DONATIONS, currency), ZERO, total))
    return entries
