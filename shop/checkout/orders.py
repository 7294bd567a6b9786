"""A placed order as the fan sees it: where to pay it, what it is expected to give, what its status means.

Read-only helpers for the pay page, the account and guest order pages and the order emails (DESIGN "A sale,
end to end", step 3: a fan who left the payment page finds a "complete payment" link). The way back to a
guest's order is Oscar's verification hash (`Order.verification_hash`, signed with SECRET_KEY): the email
carries it, `order_for_request` (shop/checkout/views.py) accepts it for guest orders only.
"""

from decimal import Decimal
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from fundraising import allocation
from fundraising.estimates import Estimate
from fundraising.fees import pass_through, promised_fee
from fundraising.models import OrderLineBreakdown
from fundraising.money import normalise, quantize
from shop.payments.services import CANCELLED, PAID, PENDING, REFUNDED

#: The fan's words for an order's status (Oscar stores the English pipeline names).
STATUS_LABELS = {
    PENDING: _("Waiting for payment"),
    PAID: _("Paid"),
    "Being processed": _("Being processed"),
    "Shipped": _("Shipped"),
    REFUNDED: _("Refunded"),
    CANCELLED: _("Cancelled"),
}


def status_label(status):
    return STATUS_LABELS.get(status, status)


def is_awaiting_payment(order):
    return order.status == PENDING


def pay_path(order):
    """The payment page of `order`. A guest order's carries its verification hash, so the link works in any
    browser (the hash is remembered in that session, then dropped from the address)."""
    path = reverse("checkout:pay", kwargs={"order_number": order.number})
    if order.user_id is None:
        path += "?" + urlencode({"h": order.verification_hash()})
    return path


def email_pay_path(order):
    """The "Complete payment" link of the order email: a guest's payment page (with the hash), or the
    customer's order page, which asks them to sign in first and then offers the button (the payment page
    itself answers 404 to a visitor who is not signed in, as for an order that does not exist)."""
    if order.user_id is None:
        return pay_path(order)
    return status_path(order)


def status_path(order):
    """Where the fan reads the order: the account's order page, or Oscar's guest order-status page (which
    also asks for the order's email)."""
    if order.user_id is not None:
        return reverse("customer:order", kwargs={"order_number": order.number})
    return reverse("customer:anon-order", kwargs={"order_number": order.number, "hash": order.verification_hash()})


def expected_donation(order):
    """The donation `order` is expected to give once paid, as an ``Estimate``, or None (no snapshot, or no
    share rule in force when it was placed).

    The same arithmetic as the sale posting (``fundraising.services.post_sale``) on the order's placement
    snapshot, with the fee estimated from the configured schedule on the order total: the figure the
    preview promised. The posted figure may differ by the actual Stripe fee.
    """
    rows = list(OrderLineBreakdown.objects.filter(order=order).select_related("rule").order_by("line_id"))
    if not rows or rows[0].rule is None or not rows[0].share_bps:
        return None
    rule, share_bps = rows[0].rule, rows[0].share_bps
    currency = normalise(order.currency)
    try:
        paid = quantize(order.total_incl_tax, currency)
        fee = promised_fee(amount=paid, currency=currency, pass_through=pass_through(
            paid=paid, revenue_excl_tax=sum((row.revenue_excl_tax for row in rows), Decimal(0))))
        breakdown = allocation.compute_breakdown(
            currency=currency,
            lines=[allocation.LineInput(key=row.line_id, revenue_excl_tax=row.revenue_excl_tax,
                                        unit_cost=row.unit_cost, quantity=row.quantity) for row in rows],
            fee=fee, share_bps=share_bps,
            weights=[(a.beneficiary_id, a.weight) for a in rule.allocations.order_by("beneficiary_id")],
        )
    except (TypeError, ValueError):  # as the basket's template tag: no figure rather than a broken page
        return None
    return Estimate(share_percent=Decimal(share_bps) / 100,
                    amount=quantize(sum((line.donation for line in breakdown), Decimal(0)), currency),
                    currency=currency)
