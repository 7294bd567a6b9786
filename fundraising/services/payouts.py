"""Money out of the payables by staff: disbursements (payouts) and adjustments (corrections).

Both lock the accounts they take money from and check, under that lock, that none ends below zero
on its normal side; both are idempotent on their key.
"""

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import NamedTuple

from django.db import transaction

from fundraising.exceptions import IdempotencyConflict, InsufficientPayable, MissingReason, UnbalancedTransaction
from fundraising.models import Account, Disbursement
from fundraising.money import normalise
from fundraising.selectors import account_balance
from fundraising.services.ledger import (
    ZERO,
    Kind,
    _account,
    _amount,
    _check_entries,
    _checked_key,
    _existing,
    _lock_accounts,
    _post,
)


class EntrySpec(NamedTuple):
    """One entry of an adjustment: exactly one of ``debit``/``credit`` positive, the other 0."""

    account: Account
    debit: Decimal
    credit: Decimal


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
