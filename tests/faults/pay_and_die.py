"""Pays an order at Stripe through the shop's own pay_order, then stops dead before writing the capture.

Run by tests/faults/test_faults.py as a separate process, which kills it with SIGKILL once this prints
"stripe-confirmed": the fan's money is taken at Stripe and the shop wrote only the attempt, as when the
process dies between Stripe's success and our write. Usage: pay_and_die.py ORDER_NUMBER (environment:
DJANGO_SETTINGS_MODULE, DATABASE_URL and STRIPE_* as for the shop).
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

import django  # noqa: E402

django.setup()

from oscar.core.loading import get_model  # noqa: E402

from shop.payments import services  # noqa: E402
from shop.payments.services import paying  # noqa: E402

Order = get_model("order", "Order")


def stop_dead(**kwargs):
    print("stripe-confirmed", kwargs["intent"].id, flush=True)
    time.sleep(120)  # the test kills us here; bounded in case it does not


paying.payment_captured = stop_dead  # the name pay_order calls
outcome = services.pay_order(order=Order.objects.get(number=sys.argv[1]), payment_method="pm_card_visa")
print("not killed", outcome, flush=True)
