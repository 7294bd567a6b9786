"""The posting primitive of the donation ledger, and what every posting service shares.

Owns ``_post`` (insert one balanced transaction and its entries), the entry and amount checks, the
idempotency lookup (``_existing``), the lock helpers and the account lookup. The services of the other
modules lock, check and call ``_post`` inside their own ``transaction.atomic()``.

Lock order, always: the Oscar order row (``lock_order``), then ledger accounts by ascending id
(``_lock_accounts``). Accounts are locked ``FOR NO KEY UPDATE`` on PostgreSQL, which does not conflict
with the ``KEY SHARE`` lock taken when an entry references its account, so sales never wait for a
reversal or a disbursement. Only what takes money *out* of a payable (reversals, disbursements,
adjustments) locks it, since only that can drive it below zero; a sale locks nothing but its own order
row and updates no shared row, so sales of different orders never serialise each other.
"""

from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from oscar.core.loading import get_model

from fundraising import chain
from fundraising.exceptions import IdempotencyConflict, UnbalancedTransaction
from fundraising.models import Account, Entry, LedgerTransaction, transaction_digest
from fundraising.money import quantize, to_minor

Order = get_model("order", "Order")

Kind = LedgerTransaction.Kind
ZERO = Decimal(0)
MAX_KEY_LENGTH = 255


def lock_order(order):
    """The order row, locked for the rest of the transaction: the first lock of every order-related service
    (fundraising's and shop's payment services), which serialises the capture, refund and dispute of one order.
    """
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


def _post(*, kind, key, currency, entries, order=None, reference="", basis_amount=None, memo="", created_by=None,
          seal=True):
    """Insert one transaction and its entries; the caller holds the locks and has checked the invariants.

    ``seal=False`` leaves it out of the public chain: the caller must seal it (``chain.seal_many``) in the same
    database transaction before committing (``verify_ledger`` reports a committed transaction not in the chain)."""
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
    # Last, in the caller's transaction: the public chain's end stays locked until it commits (fundraising.chain).
    if seal:
        chain.seal(txn, entries)
    return txn
