"""Services that write the donation ledger (placeholder signatures; the ledger issue #4 fills them in).

Called by the order and payment code inside *their* database transactions:
- `snapshot_order(order=...)` when the order is placed (unit costs and the share rule in force);
- `post_sale(order=..., fee=..., fee_estimated=...)` when its payment is captured;
- `post_reversal(order=..., key=..., kind=..., amount=..., line_quantities=...)` when a refund or a
  lost dispute is recorded.
"""


def snapshot_order(*, order):
    return None


def post_sale(*, order, fee, fee_estimated):
    return None


def post_reversal(*, order, key, kind, amount, line_quantities=None):
    return None
