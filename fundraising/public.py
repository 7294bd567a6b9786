"""The public transparency figures: what was raised, reversed, paid out, per group and currency.

No personal data: amounts, item counts and times, and the groups as their visibility allows (a named group by
name and slug, an aliased one by its public name only, an aggregated one only inside the totals); never a
customer, an order number or an address.
"""

from decimal import Decimal

from contextlib import contextmanager

from django.db import connection, transaction
from django.db.models import Max, Sum
from django.utils import timezone

from fundraising import chain
from fundraising.models import CampaignGoal, LedgerTransaction, OrderLineBreakdown
from fundraising.money import quantize
from fundraising.selectors import beneficiary_balances, ledger_currencies

ZERO = Decimal(0)


@contextmanager
def snapshot():
    """One consistent read of the ledger: a REPEATABLE READ transaction on PostgreSQL (its first statement), a
    read transaction on SQLite. Inside an enclosing transaction (tests) it is that transaction's view."""
    outer = connection.in_atomic_block
    with transaction.atomic():
        if not outer and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def transparency_totals():
    """Per currency: raised (sale credits), reversed (refunds, disputes), net, disbursed, payable, items
    in paid orders (refunds not subtracted), the goal and its progress (net / goal), per group too; and the
    public chain's end these figures include (``ledger``: sequence number and hash), all read in one snapshot."""
    with snapshot():
        totals = _totals()
        totals["ledger"] = chain.current_head()
    return totals


def _totals():
    currencies = ledger_currencies()
    goals = {goal.currency: goal.amount for goal in CampaignGoal.objects.all()}
    sold = dict(
        OrderLineBreakdown.objects.filter(completed_at__isnull=False).values("currency")
        .annotate(n=Sum("quantity")).values_list("currency", "n").order_by()
    )
    sections = []
    for currency in currencies:
        rows = [row for row in beneficiary_balances(currency=currency)
                if row.beneficiary.active or row.earned or row.payable or row.disbursed]
        # Every group counts in the totals; only named and aliased ones are listed, by their public label.
        listed = sorted((row for row in rows if row.beneficiary.public_key),
                        key=lambda row: row.beneficiary.public_label.casefold())
        total = {
            name: quantize(sum((getattr(row, name) for row in rows), ZERO), currency)
            for name in ("earned", "reversed", "disbursed", "payable")
        }
        net = quantize(total["earned"] - total["reversed"], currency)
        goal = goals.get(currency)
        progress = None
        if goal:
            progress = min(Decimal(100), (net / goal * 100).quantize(Decimal("0.1")))
        sections.append({
            "currency": currency,
            "raised": total["earned"],
            "reversed": total["reversed"],
            "net_raised": net,
            "disbursed": total["disbursed"],
            "payable": total["payable"],
            "items_sold": sold.get(currency) or 0,
            "goal": quantize(goal, currency) if goal else None,
            "goal_progress_percent": progress,
            "beneficiaries": [
                {
                    "slug": row.beneficiary.public_key,
                    "name": row.beneficiary.public_label,
                    "country": row.beneficiary.country,
                    "raised": row.earned,
                    "reversed": row.reversed,
                    "net_raised": quantize(row.earned - row.reversed, currency),
                    "disbursed": row.disbursed,
                    "payable": row.payable,
                }
                for row in listed
            ],
        })
    last = LedgerTransaction.objects.aggregate(last=Max("posted_at"))["last"]
    return {"generated_at": timezone.now(), "last_updated": last, "currencies": sections}


def as_json(totals):
    def text(value):  # a Decimal as JSON wants it: a string, exact (amounts and the goal's percentage)
        return None if value is None else format(value, "f")

    return {
        "schema": "p6-fundraising-totals/1",
        "generated_at": totals["generated_at"].isoformat(),
        "last_updated": totals["last_updated"].isoformat() if totals["last_updated"] else None,
        "currencies": [
            {
                "currency": s["currency"],
                "raised": text(s["raised"]),
                "reversed": text(s["reversed"]),
                "net_raised": text(s["net_raised"]),
                "disbursed": text(s["disbursed"]),
                "payable": text(s["payable"]),
                "items_sold": s["items_sold"],
                "goal": text(s["goal"]),
                "goal_progress_percent": text(s["goal_progress_percent"]),
                "beneficiaries": [
                    {key: (text(value) if isinstance(value, Decimal) else value) for key, value in b.items()}
                    for b in s["beneficiaries"]
                ],
            }
            for s in totals["currencies"]
        ],
        "ledger": {"seq": totals["ledger"][0], "hash": totals["ledger"][1]},
    }
