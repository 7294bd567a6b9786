"""A refused card in the fan's words and language, never Stripe's raw English.

The pay service answers "declined" with Stripe's own message (a `CardDeclined`'s text, or the intent's
`last_payment_error.message`). Stripe's codes say what happened; this module turns them into our translated
sentences. Card-fraud codes (lost, stolen, fraudulent, pickup...) get the generic sentence, as Stripe
advises: the fan is never told the card was reported.

The codes are read back from the attempt's intent at Stripe (read-only; the services keep their answer as it
is). When Stripe cannot be asked, the generic sentence is shown: it is always true.
"""

import logging

from django.utils.translation import gettext as _
from oscar.apps.payment.exceptions import PaymentError

from shop.payments.gateway import get_gateway
from shop.payments.models import PaymentAttempt

logger = logging.getLogger("shop.checkout")

AUTHENTICATION_CODES = {"payment_intent_authentication_failure", "authentication_required",
                        "authentication_not_handled"}


def _messages():
    # Built per call, so gettext answers in the language of the request being served.
    generic = _("Your card was declined, so no payment was taken. Please try another card, or ask your bank.")
    funds = _("Your card was declined because there is not enough money on it. No payment was taken. "
              "Please try another card.")
    expired = _("Your card has expired, so no payment was taken. Please use another card.")
    cvc = _("The security code (CVC) of your card is not right, so no payment was taken. Please check it "
            "and try again.")
    number = _("The card number is not right, so no payment was taken. Please check it and try again.")
    expiry = _("The expiry date of your card is not right, so no payment was taken. Please check it and "
               "try again.")
    postcode = _("The postcode does not match your card, so no payment was taken. Please check it and try "
                 "again.")
    retry = _("Your bank could not approve this payment just now, so no payment was taken. Please try again "
              "in a moment.")
    limit = _("Your card's spending limit was reached, so no payment was taken. Please try another card, or "
              "ask your bank.")
    unsupported = _("Your card cannot be used for this payment, so no payment was taken. Please try another "
                    "card.")
    authentication = _("Your bank's security check (authentication) did not succeed, so no payment was taken. "
                       "Please try again, or use another card.")
    by_code = {
        "insufficient_funds": funds,
        "expired_card": expired,
        "incorrect_cvc": cvc, "invalid_cvc": cvc,
        "incorrect_number": number, "invalid_number": number,
        "invalid_expiry_month": expiry, "invalid_expiry_year": expiry,
        "incorrect_zip": postcode,
        "processing_error": retry, "try_again_later": retry, "issuer_not_available": retry,
        "reenter_transaction": retry, "approve_with_id": retry,
        "card_velocity_exceeded": limit, "withdrawal_count_limit_exceeded": limit,
        "card_not_supported": unsupported, "currency_not_supported": unsupported,
        "transaction_not_allowed": unsupported,
    }
    by_code.update(dict.fromkeys(AUTHENTICATION_CODES, authentication))
    return generic, by_code


def decline_message(*, code=None, decline_code=None):
    """Our sentence for Stripe's `decline_code` (preferred: the bank's reason) or error `code`."""
    generic, by_code = _messages()
    for key in (decline_code, code):
        if key in by_code:
            return by_code[key]
    return generic


def declined_attempt_codes(*, order, intent_id=""):
    """(code, decline_code) of the order's declined attempt (`intent_id`'s, else its latest with an intent),
    as Stripe has them now; (None, None) when there is none or Stripe cannot be asked. Reads only."""
    attempts = PaymentAttempt.objects.filter(order=order).exclude(intent_id=None).exclude(intent_id="")
    if intent_id:
        attempts = attempts.filter(intent_id=intent_id)
    attempt = attempts.order_by("-number").first()
    if attempt is None:
        return None, None
    try:
        intent = get_gateway().retrieve_intent(attempt.intent_id)
    except PaymentError as exc:
        logger.info("order %s: decline reason of %s not read: %s", order.number, attempt.intent_id, exc)
        return None, None
    return intent.last_error_code, intent.last_error_decline_code


def fan_message(answer, *, order, intent_id=""):
    """The message to show for a pay answer: ours for a decline, the service's (already translated) else."""
    if answer.status != "declined":
        return answer.message
    code, decline_code = declined_attempt_codes(order=order, intent_id=intent_id)
    return decline_message(code=code, decline_code=decline_code)
