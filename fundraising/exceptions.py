"""Errors of the donation ledger.

All subclass ``LedgerError``, itself a ``ValueError``, so a caller that only wants "the ledger refused
this" catches one class, and code that already treats bad input as ``ValueError`` keeps working.
Every service raises them *before* writing anything (or inside a ``transaction.atomic()`` that is then
rolled back), so a refused call leaves no row behind.
"""


class LedgerError(ValueError):
    """The ledger refused an operation; nothing was written."""


class AppendOnlyError(LedgerError):
    """An attempt to change or delete a ledger row: corrections are new (reversing) transactions."""


class UnbalancedTransaction(LedgerError):
    """Entries whose debits and credits do not sum to zero per currency, or a malformed entry."""


class InsufficientPayable(LedgerError):
    """A disbursement or adjustment would take a beneficiary's payable balance below zero."""


class IdempotencyConflict(LedgerError):
    """An idempotency key already used by a different posting (another order, kind or amount)."""


class MissingReason(LedgerError):
    """A staff adjustment without a reason: every correction must say why."""


class SaleNotPosted(LedgerError):
    """A refund or dispute for an order whose sale was never posted: there is nothing to reverse."""


class RuleInUse(LedgerError):
    """A share rule (or its weights) that orders already used cannot be edited: set a new rule."""
