"""Services that apply what Stripe says to Oscar orders (DESIGN "A sale, end to end").

One function per fact, each idempotent, each called by every path that can learn the fact: the pay page,
the webhook, `reconcile_payments`, `cancel_unpaid_orders` and the dashboard refund. Network calls to Stripe
happen *outside* database transactions; the writes that follow happen inside one `transaction.atomic()`
that first locks the order row, so two callers racing on the same order serialise there and the second
finds the work done.

- paying: one live PaymentIntent per order (the payment lease), card-testing limits
- capture: the one "payment captured" service; excess payments and their refunds
- refunds: refunds of the booked charge, pending → succeeded / failed / canceled
- disputes: disputes matched to their charge; lost ones on the booked charge reverse the donation
- cancelling: unpaid orders cancelled at Stripe first
- reconciling: what Stripe knows, applied to orders whose webhooks were lost

Lock order, everywhere: the order row, then (inside fundraising) ledger accounts by id.
"""

from shop.payments.gateway import CardDeclined  # noqa: F401 — re-exported for callers
from shop.payments.models import ExcessPayment, PaymentAttempt, StripeDispute, StripeRefund  # noqa: F401
from shop.payments.services.cancelling import cancel_unpaid_order  # noqa: F401
from shop.payments.services.capture import (  # noqa: F401
    CaptureResult, apply_excess_refund, payment_captured, read_fee, refund_excess, send_paid_email,
)
from shop.payments.services.common import (  # noqa: F401
    CANCELLED, PAID, PAID_STATUSES, PENDING, REFUNDED, Order, OrderNotPayable, PaymentInProgress, RefundRefused,
    Source, TooManyAttempts, booked_attempt, captured_amount, order_for_intent, refunded_line_quantities,
    refunded_or_reserved, refunded_total,
)
from shop.payments.services.disputes import apply_dispute, dispute_closed, dispute_opened  # noqa: F401
from shop.payments.services.paying import (  # noqa: F401
    PayAnswer, PayOutcome, answer_pay_request, apply_intent, check_attempt, pay_order, payment_failed,
)
from shop.payments.services.reconciling import reconcile_order  # noqa: F401
from shop.payments.services.refunds import (  # noqa: F401
    record_refund, refund_amount_for_lines, settle_refunds, start_refund,
)
