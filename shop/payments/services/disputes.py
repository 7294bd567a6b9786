"""Disputes (chargebacks), matched to the charge they are about.

A dispute on the booked charge that is lost reverses the donation like a refund of the disputed amount,
once per dispute id; won, prevented or warning_closed leave the donation alone. A dispute on an excess
payment never touches the sale: the excess payment is marked disputed (its refund is then Stripe's
business: a disputed charge cannot be refunded). A dispute in another currency than the order's is
converted with the balance transactions Stripe reports (the share of the charge's settled amount it
withdrew), never booked as if it were an order-currency amount.
"""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fundraising import services as fundraising
from fundraising.money import quantize
from shop.payments.models import ExcessPayment, StripeDispute
from shop.payments.services.common import (
    PaymentEvent, booked_attempt, captured_amount, event_type, in_shop_language, lock_order, note,
)

CLOSED_KEEPING_THE_MONEY = ("won", "warning_closed", "prevented")


def order_amount_of(*, order, dispute, charge):
    """The disputed money in the order's currency, or None when Stripe's figures do not allow it."""
    if dispute.currency == order.currency:
        return dispute.amount
    charge_txn = charge.balance_transaction if charge is not None else None
    withdrawals = [bt for bt in dispute.balance_transactions if bt.amount < 0]
    if charge_txn is None or charge.currency != order.currency or not withdrawals or charge_txn.amount <= 0:
        return None
    withdrawn = -sum((bt.amount for bt in withdrawals if bt.currency == charge_txn.currency), start=0)
    if withdrawn <= 0:
        return None
    captured = captured_amount(order)
    return min(quantize(captured * withdrawn / charge_txn.amount, order.currency), captured)


@in_shop_language
def apply_dispute(*, order, dispute, charge=None):
    """Record Stripe's current state of a dispute (created, updated, closed, funds withdrawn or reinstated)
    and, when it is lost on the booked charge, reverse the donation once. Returns the StripeDispute."""
    with transaction.atomic():
        order = lock_order(order)
        booked = booked_attempt(order)
        on_booked = booked is not None and dispute.payment_intent_id == booked.intent_id
        row = StripeDispute.objects.select_for_update().filter(dispute_id=dispute.id).first()
        if row is None:
            row = StripeDispute(order=order, dispute_id=dispute.id, charge_id=dispute.charge_id or "",
                                booked=on_booked, amount=dispute.amount, currency=dispute.currency,
                                order_amount=order_amount_of(order=order, dispute=dispute, charge=charge)
                                if on_booked else None)
            note(order, _("Dispute %(id)s opened for %(amount)s %(currency)s (%(status)s)%(which)s.")
                 % {"id": dispute.id, "amount": dispute.amount, "currency": dispute.currency,
                    "status": dispute.status,
                    "which": "" if on_booked else _(" on an excess payment, not on the order's payment")},
                 once_for=dispute.id)
        previous = row.status
        row.status, row.amount, row.currency = dispute.status, dispute.amount, dispute.currency
        if row.booked and row.order_amount is None:  # known once Stripe withdraws the money (an escalated inquiry)
            row.order_amount = order_amount_of(order=order, dispute=dispute, charge=charge)
        if not row.booked:
            ExcessPayment.objects.filter(order=order, intent_id=dispute.payment_intent_id or "-").exclude(
                status=ExcessPayment.REFUNDED).update(status=ExcessPayment.DISPUTED)
            row.save()
            return row
        if dispute.status == "lost" and row.reversed_at is None:
            if row.order_amount is None:
                row.save()
                note(order, _("Dispute %(id)s lost, but its amount in %(currency)s could not be determined from "
                              "Stripe's balance transactions: not reversed, check it.")
                     % {"id": dispute.id, "currency": order.currency}, once_for=f"{dispute.id} lost")
                return row
            row.reversed_at = timezone.now()
            row.save()
            PaymentEvent.objects.create(order=order, amount=row.order_amount, reference=dispute.id,
                                        event_type=event_type("dispute-lost", "Dispute lost"))
            note(order, _("Dispute %(id)s lost: %(amount)s %(currency)s taken back by the card issuer.")
                 % {"id": dispute.id, "amount": quantize(row.order_amount, order.currency), "currency": order.currency})
            fundraising.post_reversal(order=order, key=f"dispute:{dispute.id}", kind="dispute",
                                      amount=row.order_amount)
            return row
        row.save()
        if previous != dispute.status and dispute.status in CLOSED_KEEPING_THE_MONEY:
            note(order, _("Dispute %(id)s closed: %(status)s.") % {"id": dispute.id, "status": dispute.status},
                 once_for=f"{dispute.id} closed")
        return row


def dispute_opened(*, order, dispute):
    return apply_dispute(order=order, dispute=dispute)


def dispute_closed(*, order, dispute):
    return apply_dispute(order=order, dispute=dispute)
