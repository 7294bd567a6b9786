"""The donation ledger: beneficiaries, share rules, per-line breakdowns, accounts, transactions, entries.

Design (DESIGN.md "Money rules" and "The ledger"); keep this docstring true. One module per sub-domain:
``common`` (amount precision, paid statuses, the append-only guards), ``rules``, ``breakdowns``,
``ledger`` (accounts, transactions, entries, the digest), ``payouts``, ``reversals``, ``checkpoints``,
``partners`` (partners' sales reports and their posted lines, issue 19) and ``campaign`` (the goal and the
dashboard's permissions); import them from ``fundraising.models``.

- ``Beneficiary``, ``ShareRule`` and ``ShareRuleBeneficiary`` say which share of profit (basis points)
  is donated and how it is split (integer weights). A rule used by an order is never edited:
  ``services.set_share_rule`` closes the open rule (``valid_to``) and opens a new one, so an order
  keeps the rule in force when it was placed.
- ``OrderLineBreakdown`` (one per Oscar order line) is written when the order is placed (revenue
  excluding tax after discounts, unit cost, quantity, rule, share) and completed once when the payment
  is captured (fee share, profit, donation); ``BreakdownPart`` holds each beneficiary's part and the
  weight it was split by. Every figure can be recomputed with ``fundraising.allocation``.
- ``Account`` per (kind, beneficiary, currency): a beneficiary's PAYABLE (what the campaign owes it),
  DISBURSED (what was paid out to it) and RECEIVABLE (donations reversed after they were paid out:
  the part of a reversal the payable could not absorb); the campaign's DONATIONS account is the other
  side of every donation. Balances are per currency, never mixed.
- ``LedgerTransaction`` (unique idempotency key, one currency) and ``Entry`` (positive debit xor
  positive credit) are append-only, like ``Disbursement``, ``BreakdownPart`` and ``ReversalLine`` /
  ``ReversalLinePart`` (which lines and parts a by-line refund reversed). Every transaction sums to
  zero. A sale whose donation is zero is still posted, as a transaction with no entries, so "every
  paid order has its sale" holds uniformly.
  ``digest`` (HMAC-SHA256 of the transaction and its entries, keyed with ``P6_LEDGER_KEY``) lets
  ``verify_ledger`` detect a row changed behind the triggers' back, even with its digest recomputed.
- Enforcement: the ORM refuses ``update()``/``delete()``/re-``save()`` of append-only rows
  (``AppendOnlyQuerySet``, ``AppendOnlyModel``); migration 0002 installs triggers refusing UPDATE and
  DELETE on PostgreSQL and SQLite, and on PostgreSQL a deferred constraint trigger refusing, at commit,
  a transaction whose entries do not sum to zero. TRUNCATE (PostgreSQL) and Django's ``flush``
  (SQLite, see ``fundraising.db``) still empty the tables: they are whole-database resets, not edits.
- Balances: ``BalanceCheckpoint`` + ``CheckpointTotal`` hold cumulative totals per (account, kind) of
  every entry with ``id <= upto_entry_id``; a balance is the latest checkpoint plus the entries after
  it (index on (account, id)). Sales never update or lock a shared row; only reversals, disbursements
  and adjustments, which can take money *out* of an account, lock accounts.
- Amounts are ``DecimalField(max_digits=18, decimal_places=4)``: four places hold the minor unit of
  every ISO 4217 currency (CLF has 4, KWD 3, JPY 0); services store amounts at the currency's minor
  unit: amounts given by callers must already be exact (finer is refused), Oscar's 2-decimal prices
  are rounded half-up to it (they only differ for 0-decimal currencies).
- A migration that alters an append-only table on SQLite rebuilds it and drops its triggers: it must
  re-create them (``verify_ledger`` reports missing triggers).
"""

# Imported in the order the models were first defined (one module then), so Django registers them in
# the same order.
from fundraising.models.common import (
    AMOUNT,
    PAID_ORDER_STATUSES,
    AppendOnlyManager,
    AppendOnlyModel,
    AppendOnlyQuerySet,
)
from fundraising.models.rules import Beneficiary, ShareRule, ShareRuleBeneficiary, slug_validator
from fundraising.models.breakdowns import BreakdownPart, OrderLineBreakdown
from fundraising.models.ledger import Account, Entry, LedgerTransaction, ledger_key, transaction_digest
from fundraising.models.payouts import Disbursement
from fundraising.models.reversals import ReversalLine, ReversalLinePart
from fundraising.models.checkpoints import BalanceCheckpoint, CheckpointTotal
from fundraising.models.campaign import CampaignGoal
from fundraising.models.verification import LedgerVerification
from fundraising.models.chain import GENESIS, ChainHead, ChainLink, ChainState
from fundraising.models.partners import Partner, PartnerReport, PartnerSaleLine, PartnerSaleLinePart

__all__ = [
    "AMOUNT",
    "PAID_ORDER_STATUSES",
    "Account",
    "AppendOnlyManager",
    "AppendOnlyModel",
    "AppendOnlyQuerySet",
    "BalanceCheckpoint",
    "Beneficiary",
    "BreakdownPart",
    "CampaignGoal",
    "ChainHead",
    "ChainLink",
    "ChainState",
    "CheckpointTotal",
    "Disbursement",
    "Entry",
    "GENESIS",
    "LedgerTransaction",
    "LedgerVerification",
    "OrderLineBreakdown",
    "Partner",
    "PartnerReport",
    "PartnerSaleLine",
    "PartnerSaleLinePart",
    "ReversalLine",
    "ReversalLinePart",
    "ShareRule",
    "ShareRuleBeneficiary",
    "slug_validator",
    "ledger_key",
    "transaction_digest",
]
