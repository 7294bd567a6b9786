"""Services that write the donation ledger (DESIGN "The ledger"; services write, selectors read).

Called by the order and payment code inside *their* database transactions:
- ``snapshot_order(order=...)`` when the order is placed (unit costs and the share rule in force);
- ``post_sale(order=..., fee=Fee(amount, estimated))`` when its payment is captured;
- ``post_reversal(order=..., key=..., kind=..., amount=..., line_quantities=...)`` when a refund or a
  lost dispute is recorded.
Called by staff: ``record_disbursement``, ``post_adjustment``, ``set_share_rule``, ``save_beneficiary``,
``set_campaign_goal``; by a scheduled job: ``take_balance_checkpoint``, ``record_verification``.

Every service takes keyword-only arguments, validates, then locks, checks and writes inside one
``transaction.atomic()``: a refusal raises before anything is written (or rolls back what was), and
no check is made outside the transaction that relies on it.

One module per sub-domain; this package re-exports their public names, so callers write
``from fundraising import services; services.post_sale(...)``:
- ``ledger``: the posting primitive ``_post``, entry checks, the idempotency lookup, the lock helpers
  (and the lock order), account lookup;
- ``sales``: ``snapshot_order``, ``post_sale``;
- ``reversals``: ``post_reversal``, ``preview_reversal``, ``post_restoration``;
- ``payouts``: ``record_disbursement``, ``post_adjustment``;
- ``rules``: ``set_share_rule``, ``save_beneficiary``, ``set_campaign_goal``;
- ``checkpoints``: ``take_balance_checkpoint``;
- ``verifications``: ``record_verification`` (the daily check of the invariants, kept for staff).
"""

from fundraising.services.checkpoints import take_balance_checkpoint
from fundraising.services.payouts import EntrySpec, post_adjustment, record_disbursement
from fundraising.services.reversals import post_restoration, post_reversal, preview_reversal
from fundraising.services.rules import save_beneficiary, set_campaign_goal, set_share_rule
from fundraising.services.sales import post_sale, snapshot_order
from fundraising.services.verifications import record_verification

__all__ = [
    "EntrySpec",
    "post_adjustment",
    "post_restoration",
    "post_reversal",
    "post_sale",
    "preview_reversal",
    "record_disbursement",
    "record_verification",
    "save_beneficiary",
    "set_campaign_goal",
    "set_share_rule",
    "snapshot_order",
    "take_balance_checkpoint",
]
