"""Services that write the donation ledger (DESIGN "The ledger"; services write, selectors read).

Called by the order and payment code inside *their* database transactions:
- ``snapshot_order(order=...)`` when the order is placed (unit costs and the share rule in force);
- ``post_sale(order=..., fee=..., fee_estimated=...)`` when its payment is captured;
- ``post_reversal(order=..., key=..., kind=..., amount=..., line_quantities=...)`` when a refund or a
  lost dispute is recorded.
Called by staff: ``record_disbursement``, ``post_adjustment``, ``set_share_rule``; by a scheduled job:
``take_balance_checkpoint``.

Every service takes keyword-only arguments, validates, then locks, checks and writes inside one
``transaction.atomic()``: a refusal raises before anything is written (or rolls back what was), and
no check is made outside the transaction that relies on it.

Lock order, always: the Oscar order row, then ledger accounts by ascending id. Accounts are locked
``FOR NO KEY UPDATE`` on PostgreSQL, which does not conflict with the ``KEY SHARE`` lock taken when an
entry references its account, so sales never wait for a reversal or a disbursement. Only what takes
money *out* of a payable (reversals, disbursements, adjustments) locks it, since only that can drive it
below zero; a sale locks nothing but its own order row and updates no shared row, so sales of
different orders never serialise each other.
"""

import datetime as dt
import logging
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Max, Q, Sum
from django.utils import timezone
from oscar.core.loading import get_model

from catalog.models import UnitCost
from fundraising import allocation
from fundraising.exceptions import (
    IdempotencyConflict,
    InsufficientPayable,
    LedgerError,
    MissingReason,
    SaleNotPosted,
    UnbalancedTransaction,
)
from fundraising.models import (
    Account,
    BalanceCheckpoint,
    Beneficiary,
    BreakdownPart,
    CheckpointTotal,
    Disbursement,
    Entry,
    LedgerTransaction,
    OrderLineBreakdown,
    ReversalLine,
    ReversalLinePart,
    ShareRule,
    ShareRuleBeneficiary,
    transaction_digest,
)
from fundraising.selectors import account_balance, rule_in_force
from shop.currency import normalise, quantize, to_minor

Order = get_model("order", "Order")

logger = logging.getLogger(__name__)

Kind = LedgerTransaction.Kind
ZERO = Decimal(0)
MAX_KEY_LENGTH = 255
CHECKPOINT_LOCK_TIMEOUT = "2s"


class EntrySpec(NamedTuple):
    """One entry of an adjustment: exactly one of ``debit``/``credit`` positive, the other 0."""

    account: Account
    debit: Decimal
    credit: Decimal


# --- order placement and capture ----------------------------------------------------------------------


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
        locked = _lock_order(order)
        return _snapshot(order=locked, rule_at=timezone.now(), late=False)


def post_sale(*, order, fee, fee_estimated):
    """Complete the order's breakdown and post its donation: one sale transaction per order, ever.

    Called inside the payment-captured transaction. ``fee``: the payment fee in the order currency
    (a Decimal at its minor unit), or None to estimate it from ``STRIPE_FEE_PERCENT`` and
    ``STRIPE_FEE_FIXED`` on the order total including tax (then flagged estimated whatever
    ``fee_estimated`` says). Computes every line's fee share, profit, donation and beneficiary parts
    with ``allocation.compute_breakdown`` and posts the transaction ``sale:<order number>``: debit the
    campaign donations account with the order's donation, credit each beneficiary's payable with its
    parts. A zero donation is still posted, as a transaction with no entries (and parts of 0), so that
    every paid order has its sale transaction. An order placed without a snapshot gets one now, with the
    rule in force when it was placed (flagged ``snapshotted_late``).

    Idempotent: a second call returns the existing transaction and writes nothing.
    Raises ``TypeError``/``ValueError`` (``CurrencyError``) for a bad fee, ``IdempotencyConflict`` if
    the key belongs to another posting, ``LedgerError`` if the breakdown is inconsistent.
    """
    with transaction.atomic():
        order = _lock_order(order)
        key = f"sale:{order.number}"
        existing = _existing(key, kind=Kind.SALE, order=order)
        if existing is not None:
            return existing
        currency = normalise(order.currency)
        captured = _oscar_amount(order.total_incl_tax, currency)
        if fee is None:
            fee = allocation.estimate_fee(
                amount=captured,
                currency=currency,
                percent=Decimal(str(settings.STRIPE_FEE_PERCENT)),
                fixed=Decimal(str(settings.STRIPE_FEE_FIXED)),
            )
            estimated = True
        else:
            fee = _amount("fee", fee, currency)
            estimated = bool(fee_estimated)

        rows = _breakdowns_for_capture(order)
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
        order = _lock_order(order)
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
        order = _lock_order(order)
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


# --- staff operations ---------------------------------------------------------------------------------


def record_disbursement(*, beneficiary, amount, currency, paid_on, reference, created_by=None):
    """Record money paid out to a beneficiary: debit its payable, credit its disbursed account.

    Invariant: never more than the beneficiary's payable balance in that currency, checked under the
    payable's lock, so a disbursement racing a refund reversal cannot drive it below zero.
    Idempotent per (beneficiary, reference): recording the same payout again returns the existing
    ``Disbursement``; the same reference with another amount, currency or date is a conflict.
    Raises ``InsufficientPayable`` (nothing written), ``IdempotencyConflict``, ``ValueError`` for a
    non-positive or sub-minor-unit amount, an empty reference or a ``paid_on`` that is not a date.
    """
    currency = normalise(currency)
    amount = _amount("amount", amount, currency, positive=True)
    reference = (reference or "").strip()
    if not reference:
        raise ValueError("a disbursement needs the payout reference (bank transfer id, receipt number)")
    if not isinstance(paid_on, dt.date) or isinstance(paid_on, dt.datetime):
        raise ValueError(f"paid_on must be a date, not {paid_on!r}")
    if beneficiary.pk is None:
        raise ValueError("the beneficiary must be saved")
    key = _checked_key(f"disbursement:{beneficiary.pk}:{reference}")
    with transaction.atomic():
        payable = _account(Account.Kind.PAYABLE, currency, beneficiary_id=beneficiary.pk)
        disbursed = _account(Account.Kind.DISBURSED, currency, beneficiary_id=beneficiary.pk)
        _lock_accounts([payable])
        existing = _existing(key, kind=Kind.DISBURSEMENT)
        if existing is not None:
            done = existing.disbursement
            if (done.amount, done.currency, done.paid_on) != (amount, currency, paid_on):
                raise IdempotencyConflict(
                    f"payout {reference!r} to {beneficiary} was already recorded as {done.amount} "
                    f"{done.currency} on {done.paid_on}"
                )
            return done
        balance = account_balance(account=payable)
        if amount > balance:
            raise InsufficientPayable(
                f"cannot disburse {amount} {currency} to {beneficiary}: its payable balance is {balance} {currency}"
            )
        txn = _post(
            kind=Kind.DISBURSEMENT, key=key, currency=currency, reference=reference, basis_amount=amount,
            entries=[(payable, amount, ZERO), (disbursed, ZERO, amount)],
            memo=f"Paid {amount} {currency} to {beneficiary} on {paid_on.isoformat()} (reference {reference})",
            created_by=created_by,
        )
        return Disbursement.objects.create(
            beneficiary=beneficiary, amount=amount, currency=currency, paid_on=paid_on, reference=reference,
            created_by=created_by, transaction=txn,
        )


def post_adjustment(*, entries, reason, currency, created_by=None, idempotency_key=None):
    """Post a staff correction: balanced entries and a mandatory reason (the memo).

    ``entries``: ``EntrySpec(account, debit, credit)`` or ``(account, debit, credit)`` tuples, each with
    exactly one positive side, all in ``currency``, debits summing to credits. The key is
    ``adjustment:<uuid4>`` unless ``idempotency_key`` is given (then a second call with it returns the
    existing transaction). Invariant: no account ends below zero on its normal side (a payable in
    particular), checked under the accounts' locks.
    Raises ``MissingReason`` for an empty reason, ``UnbalancedTransaction`` for malformed or unbalanced
    entries or an account in another currency, ``InsufficientPayable`` if an account would go below
    zero, ``IdempotencyConflict`` if the key belongs to another kind of posting; nothing is written.
    """
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    if not reason:
        raise MissingReason("an adjustment needs a reason: say why the ledger is corrected")
    currency = normalise(currency)
    if isinstance(entries, (str, bytes, Mapping)) or not isinstance(entries, Sequence) or len(entries) < 2:
        raise UnbalancedTransaction("an adjustment needs at least two entries (a debit and a credit)")
    checked = []
    for spec in entries:
        account, debit, credit = spec
        if not isinstance(account, Account) or account.pk is None:
            raise UnbalancedTransaction(f"not a saved ledger account: {account!r}")
        checked.append((account, _amount("debit", debit, currency), _amount("credit", credit, currency)))
    key = _checked_key(idempotency_key or f"adjustment:{uuid.uuid4()}")
    _check_entries(checked, currency)
    with transaction.atomic():
        _lock_accounts([account for account, _, _ in checked])
        existing = _existing(key, kind=Kind.ADJUSTMENT)
        if existing is not None:
            return existing
        change = defaultdict(lambda: ZERO)
        for account, debit, credit in checked:
            normal = credit - debit if account.kind in Account.CREDIT_NORMAL else debit - credit
            change[account.pk] += normal
        for account, _, _ in checked:
            if change[account.pk] < 0:
                balance = account_balance(account=account)
                if balance + change[account.pk] < 0:
                    raise InsufficientPayable(
                        f"the adjustment would take {account.code} below zero: balance {balance} {currency}, "
                        f"change {change[account.pk]} {currency}"
                    )
        return _post(
            kind=Kind.ADJUSTMENT, key=key, currency=currency, entries=checked, memo=reason, created_by=created_by
        )


def set_share_rule(*, share_bps, weights, valid_from=None, created_by=None, note=""):
    """Start a new share rule at ``valid_from`` (default now), closing the rule in force until then.

    ``weights``: ``[(beneficiary, weight), ...]`` with positive int weights, active saved beneficiaries,
    no duplicate. Rules are never edited: orders keep the rule that was in force when they were placed.
    Invariants: rules do not overlap (the open rule's ``valid_to`` becomes ``valid_from``); a rule may
    not start before or at the start of an existing rule, nor before an order snapshot already taken
    under the old rule (that would rewrite history).
    Raises ``TypeError``/``ValueError`` for invalid input; nothing is written then.
    """
    if isinstance(share_bps, bool) or not isinstance(share_bps, int):
        raise TypeError(f"share_bps must be an int number of basis points, not {type(share_bps).__name__}")
    if not 0 <= share_bps <= allocation.BPS_WHOLE:
        raise ValueError(f"share_bps must be between 0 and {allocation.BPS_WHOLE}, got {share_bps}")
    if isinstance(weights, (str, bytes, Mapping)) or not isinstance(weights, Sequence) or not weights:
        raise ValueError("weights must be a non-empty list of (beneficiary, weight) pairs")
    seen = set()
    for pair in weights:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"weights must hold (beneficiary, weight) pairs, got {pair!r}")
        beneficiary, weight = pair
        if not isinstance(beneficiary, Beneficiary) or beneficiary.pk is None:
            raise TypeError(f"not a saved beneficiary: {beneficiary!r}")
        if not beneficiary.active:
            raise ValueError(f"{beneficiary} is not active")
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 1:
            raise ValueError(f"the weight of {beneficiary} must be a positive int, got {weight!r}")
        if beneficiary.pk in seen:
            raise ValueError(f"{beneficiary} appears twice")
        seen.add(beneficiary.pk)
    valid_from = valid_from or timezone.now()
    if timezone.is_naive(valid_from):
        raise ValueError("valid_from must be an aware datetime")
    with transaction.atomic():
        rules = list(ShareRule.objects.select_for_update().order_by("pk"))
        later = [rule for rule in rules if rule.valid_from >= valid_from]
        if later:
            raise ValueError(f"a rule already starts at or after {valid_from.isoformat()}: rules are never rewritten")
        if OrderLineBreakdown.objects.filter(snapshotted_at__gte=valid_from).exists():
            raise ValueError(f"orders were already snapshotted after {valid_from.isoformat()} under the previous rule")
        ShareRule.objects.filter(Q(valid_to__isnull=True) | Q(valid_to__gt=valid_from)).update(valid_to=valid_from)
        rule = ShareRule.objects.create(
            share_bps=share_bps, valid_from=valid_from, created_by=created_by, note=note or ""
        )
        ShareRuleBeneficiary.objects.bulk_create(
            ShareRuleBeneficiary(rule=rule, beneficiary=beneficiary, weight=weight) for beneficiary, weight in weights
        )
        return rule


# --- maintenance --------------------------------------------------------------------------------------


def take_balance_checkpoint():
    """Record cumulative totals per (account, kind) up to the highest committed entry id; return it.

    Invariant: a checkpoint covering ``id <= N`` is only taken once no entry with an id ``<= N`` can
    still commit, so "checkpoint + entries with a higher id" is exact. On PostgreSQL ids are drawn from
    a sequence at INSERT time and may commit out of order, so N is read under a brief
    ``LOCK TABLE ... IN SHARE MODE``: it waits for the transactions inserting entries to finish and
    blocks new inserts only while the maximum id is read. SQLite has one writer at a time and ids are
    assigned under its lock, so the maximum committed id is already safe. Totals are then summed
    incrementally from the previous checkpoint, outside the lock. Returns the previous checkpoint when
    there is nothing new (None on an empty ledger) or when the lock was not granted within
    ``CHECKPOINT_LOCK_TIMEOUT`` (a long transaction inserting entries: sales must not queue behind us).
    Schedule it (cron, ``manage.py checkpoint_ledger``) so balances and statements stay fast.
    """
    previous = BalanceCheckpoint.objects.order_by("-upto_entry_id").first()
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    # Bounded: while we wait, new inserts queue behind us; better skip this checkpoint.
                    cursor.execute(f"SET LOCAL lock_timeout = '{CHECKPOINT_LOCK_TIMEOUT}'")
                    cursor.execute(f"LOCK TABLE {Entry._meta.db_table} IN SHARE MODE")
            upto = Entry.objects.aggregate(upto=Max("id"))["upto"] or 0
    except OperationalError:
        logger.warning("balance checkpoint skipped: entries stayed locked longer than %s", CHECKPOINT_LOCK_TIMEOUT)
        return previous
    start = previous.upto_entry_id if previous else 0
    if upto <= start:
        return previous
    totals = defaultdict(lambda: [ZERO, ZERO])
    max_posted_at = previous.max_posted_at if previous else None
    if previous is not None:
        for row in previous.totals.values("account_id", "kind", "debit", "credit"):
            totals[(row["account_id"], row["kind"])] = [row["debit"], row["credit"]]
    for row in (
        Entry.objects.filter(id__gt=start, id__lte=upto)
        .values("account_id", "transaction__kind")
        .annotate(debit=Sum("debit"), credit=Sum("credit"), last=Max("posted_at"))
        .order_by()
    ):
        total = totals[(row["account_id"], row["transaction__kind"])]
        total[0] += row["debit"]
        total[1] += row["credit"]
        if max_posted_at is None or row["last"] > max_posted_at:
            max_posted_at = row["last"]
    try:
        with transaction.atomic():
            checkpoint = BalanceCheckpoint.objects.create(upto_entry_id=upto, max_posted_at=max_posted_at)
            CheckpointTotal.objects.bulk_create(
                CheckpointTotal(checkpoint=checkpoint, account_id=account_id, kind=kind, debit=debit, credit=credit)
                for (account_id, kind), (debit, credit) in sorted(totals.items())
            )
    except IntegrityError:
        # Another process took the same checkpoint at the same time: same totals, keep theirs.
        return BalanceCheckpoint.objects.get(upto_entry_id=upto)
    return checkpoint


# --- internals ----------------------------------------------------------------------------------------


def _lock_order(order):
    # First lock of every order-related service: serialises the capture, refund and dispute of one order.
    return Order.objects.select_for_update().get(pk=order.pk)


def _lock_accounts(accounts):
    ids = sorted({account.pk for account in accounts})
    if ids:
        no_key = connection.features.has_select_for_no_key_update
        list(Account.objects.select_for_update(no_key=no_key).filter(pk__in=ids).order_by("pk"))


def _account(kind, currency, *, beneficiary_id=None):
    # Created on first use; a concurrent creation makes get_or_create fall back to reading the winner's.
    account, _ = Account.objects.get_or_create(kind=kind, beneficiary_id=beneficiary_id, currency=currency)
    return account


def _payable_accounts(currency, beneficiary_ids):
    """``{beneficiary id: payable account}`` in one query (accounts are created once, on first use),
    so posting a sale costs the same number of queries for 1 or 12 beneficiaries."""
    found = {
        account.beneficiary_id: account
        for account in Account.objects.filter(
            kind=Account.Kind.PAYABLE, currency=currency, beneficiary_id__in=beneficiary_ids
        )
    }
    for beneficiary_id in beneficiary_ids:
        if beneficiary_id not in found:
            found[beneficiary_id] = _account(Account.Kind.PAYABLE, currency, beneficiary_id=beneficiary_id)
    return found


def _checked_key(key):
    if not isinstance(key, str) or not key.strip():
        raise ValueError(f"an idempotency key must be a non-empty string, not {key!r}")
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"an idempotency key is at most {MAX_KEY_LENGTH} characters")
    return key


def _amount(name, amount, currency, *, positive=False):
    """An exact amount at the currency's minor unit (never rounded here: the caller must be exact)."""
    if isinstance(amount, bool) or not isinstance(amount, Decimal):
        raise TypeError(f"{name} must be a Decimal (built from a string), not {type(amount).__name__} {amount!r}")
    if not amount.is_finite():
        raise ValueError(f"{name} must be finite, not {amount}")
    if amount < 0 or (positive and amount == 0):
        raise ValueError(f"{name} must be {'positive' if positive else 'zero or more'}, got {amount} {currency}")
    to_minor(amount, currency)  # CurrencyError (a ValueError) when finer than the minor unit
    return quantize(amount, currency)


def _oscar_amount(value, currency):
    # Oscar stores every price with 2 decimals whatever the currency: bring it to the currency's minor unit.
    return quantize(Decimal(value), currency)


def _existing(key, *, kind, order=None):
    txn = LedgerTransaction.objects.filter(idempotency_key=key).first()
    if txn is None:
        return None
    if txn.kind != kind or (order is not None and txn.order_id != order.pk):
        raise IdempotencyConflict(
            f"idempotency key {key!r} was already used by a {txn.kind} transaction (order id {txn.order_id})"
        )
    return txn


def _check_entries(entries, currency):
    for account, debit, credit in entries:
        if account.currency != currency:
            raise UnbalancedTransaction(f"{account} is not a {currency} account")
        if (debit > 0) == (credit > 0):
            raise UnbalancedTransaction(f"an entry on {account} needs exactly one positive side: {debit} / {credit}")
    debits = sum((debit for _, debit, _ in entries), ZERO)
    credits = sum((credit for _, _, credit in entries), ZERO)
    if debits != credits:
        raise UnbalancedTransaction(f"debits {debits} {currency} and credits {credits} {currency} differ")


def _post(*, kind, key, currency, entries, order=None, reference="", basis_amount=None, memo="", created_by=None):
    """Insert one transaction and its entries; the caller holds the locks and has checked the invariants."""
    _check_entries(entries, currency)
    posted_at = timezone.now()
    txn = LedgerTransaction(
        kind=kind, idempotency_key=key, currency=currency, order=order, reference=reference,
        basis_amount=basis_amount, memo=memo, posted_at=posted_at, created_by=created_by,
    )
    txn.digest = transaction_digest(
        kind=kind, idempotency_key=key, currency=currency, order_id=order.pk if order else None,
        reference=reference, basis_amount=basis_amount, memo=memo, posted_at=posted_at,
        created_by_id=created_by.pk if created_by else None,
        entries=[(account.pk, debit, credit) for account, debit, credit in entries],
    )
    try:
        with transaction.atomic():
            txn.save()
    except IntegrityError:
        if LedgerTransaction.objects.filter(idempotency_key=key).exists():
            raise IdempotencyConflict(f"idempotency key {key!r} was posted concurrently: retry to get it") from None
        raise
    Entry.objects.bulk_create(
        Entry(transaction=txn, account=account, currency=currency, debit=debit, credit=credit, posted_at=posted_at)
        for account, debit, credit in entries
    )
    return txn


def _snapshot(*, order, rule_at, late):
    currency = normalise(order.currency)
    existing = list(OrderLineBreakdown.objects.filter(order=order).select_related("rule"))
    done = {row.line_id for row in existing}
    # All lines of one order share one rule: a later call for a missing line reuses the first one's.
    rule = existing[0].rule if existing else rule_in_force(at=rule_at)
    lines = [line for line in order.lines.order_by("pk") if line.pk not in done]
    costs = {
        cost.stockrecord_id: cost
        for cost in UnitCost.objects.filter(stockrecord_id__in=[l.stockrecord_id for l in lines if l.stockrecord_id])
    }
    now = timezone.now()
    rows = []
    for line in lines:
        cost = costs.get(line.stockrecord_id)
        missing = cost is None or normalise(cost.currency) != currency
        rows.append(OrderLineBreakdown(
            line=line, order=order, currency=currency, quantity=line.quantity,
            revenue_excl_tax=_oscar_amount(line.line_price_excl_tax, currency),
            unit_cost=ZERO if missing else _oscar_amount(cost.amount, currency),
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
