"""Shared by the concurrency, fault and hostile tests: committed orders paid at localstripe, ledger snapshots."""

from django.core.management import call_command
from oscar.core.loading import get_model

from fundraising.models import Entry, LedgerTransaction
from fundraising.selectors import beneficiary_balances
from shop.checkout.placement import build_basket, place_pending_order
from tests import markers
from tests.markers import Sink

StockRecord = get_model("partner", "StockRecord")
Order = get_model("order", "Order")
Source = get_model("payment", "Source")
PaymentEvent = get_model("order", "PaymentEvent")

postgres_only = markers.postgres_only

ADDRESS = {"first_name": "Ana", "last_name": "Fan", "line1": "1 Main St", "line4": "Boston", "state": "MA",
           "postcode": "02110", "country": "US"}
TEE = "P6-TEE-BLK-M"  # 30.00, free shipping, no tax


def load_shop():
    """The P6 catalogue and the campaign's beneficiaries and 50 % rule, as scripts/run loads them."""
    call_command("load_p6_catalogue", stdout=Sink())
    call_command("load_p6_fundraising", stdout=Sink())


def pending_order(sku=TEE, quantity=1, n=0):
    record = StockRecord.objects.select_related("product").get(partner_sku=sku)
    basket = build_basket(items=[(record.product, quantity)])
    return place_pending_order(basket=basket, email=f"fan{n}@example.org", address=ADDRESS)


def ledger_snapshot():
    """The ledger by idempotency key, with accounts named (not numbered) so two runs compare, and the
    beneficiaries' balances."""
    by_key = {key: (kind, basis, []) for key, kind, basis in
              LedgerTransaction.objects.values_list("idempotency_key", "kind", "basis_amount")}
    for key, kind, slug, currency, debit, credit in Entry.objects.values_list(
        "transaction__idempotency_key", "account__kind", "account__beneficiary__slug", "currency", "debit", "credit"
    ):
        by_key[key][2].append((kind, slug or "", currency, debit, credit))
    ledger = {key: (kind, basis, sorted(entries)) for key, (kind, basis, entries) in by_key.items()}
    balances = [(b.beneficiary.slug, b.earned, b.reversed, b.disbursed, b.payable, b.receivable)
                for b in beneficiary_balances(currency="USD")]
    return ledger, balances


def shop_snapshot():
    """Per order: status, what its Source says, and its payment events by type."""
    orders = {number: status for number, status in Order.objects.values_list("number", "status")}
    sources = sorted(Source.objects.values_list("order__number", "reference", "amount_debited", "amount_refunded"))
    events = sorted(PaymentEvent.objects.values_list("order__number", "event_type__code", "reference", "amount"))
    return orders, sources, events
