"""The public transparency figures: what was raised, reversed, paid out, per group and currency.

No personal data: amounts, item counts and times, and the groups as their visibility allows (a named group by
name and slug, an aliased one by its public name only, an aggregated one only inside the totals); never a
customer, an order number or an address.

Per currency the figures are also split by where the sale was made (``sources``): ``online`` (this shop's orders:
sales, and refunds, disputes and restorations as reversals) and ``stores`` (partners' sales reports: partner sales,
and partner returns as reversals). No store is named unless staff publish that partner's stores
(``Partner.publish_stores``): only then does ``published_stores`` list each of its stores' figures.
"""

from decimal import Decimal

from contextlib import contextmanager

from django.db import connection, transaction
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from fundraising import chain
from fundraising.models import CampaignGoal, LedgerTransaction, OrderLineBreakdown, PartnerSaleLine
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
    """Per currency: raised (sale credits), reversed (refunds, disputes, partner returns), net, disbursed, payable,
    items in paid orders (refunds not subtracted), the goal and its progress (net / goal), per group too; the split
    online / in stores (``sources``) and the stores staff chose to publish (``published_stores``); and the public
    chain's end these figures include (``ledger``: sequence number and hash), all read in one snapshot."""
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
    in_stores = _store_items()
    published = _published_stores()
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
        stores = in_stores.get(currency, {})
        sources = {
            "online": _source(rows, "earned_online", "reversed_online", currency, items_sold=sold.get(currency) or 0),
            "stores": _source(rows, "earned_partner", "reversed_partner", currency,
                              items_sold=stores.get("sold") or 0, items_returned=stores.get("returned") or 0),
        }
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
            "sources": sources,
            # Whether any partner line was posted in this currency (the page shows the split only then).
            "has_store_sales": bool(stores.get("lines")),
            "published_stores": published.get(currency, []),
        })
    last = LedgerTransaction.objects.aggregate(last=Max("posted_at"))["last"]
    return {"generated_at": timezone.now(), "last_updated": last, "currencies": sections}


def _source(rows, earned, reversed_, currency, **items):
    raised = quantize(sum((getattr(row, earned) for row in rows), ZERO), currency)
    reversed_total = quantize(sum((getattr(row, reversed_) for row in rows), ZERO), currency)
    return {"raised": raised, "reversed": reversed_total, "net_raised": quantize(raised - reversed_total, currency),
            **items}


def _store_items():
    """``{currency: {"lines", "sold", "returned"}}`` of every partner's posted lines: the number of lines, the items
    sold (sale lines) and the items returned (return lines, as a positive number)."""
    return {
        row["currency"]: row
        for row in PartnerSaleLine.objects.values("currency").annotate(
            lines=Count("id"), sold=Sum("quantity", filter=Q(quantity__gt=0)),
            returned=-Sum("quantity", filter=Q(quantity__lt=0)),
        ).order_by()
    }


def _published_stores():
    """``{currency: [store figures]}`` of the partners whose stores staff chose to publish, and of those only: no
    other partner's store name is read here. Figures from the posted lines: ``raised`` the donations their sales
    posted, ``reversed`` what their returns took back, items sold and returned."""
    stores = {}
    rows = (
        PartnerSaleLine.objects.filter(partner__publish_stores=True)
        .values("currency", "partner__name", "store", "country")
        .annotate(
            raised=Sum("donation", filter=Q(quantity__gt=0)), reversed=Sum("donation", filter=Q(quantity__lt=0)),
            sold=Sum("quantity", filter=Q(quantity__gt=0)), returned=-Sum("quantity", filter=Q(quantity__lt=0)),
        )
        .order_by()
    )
    for row in rows:
        currency = row["currency"]
        raised = quantize(row["raised"] or ZERO, currency)
        reversed_total = quantize(row["reversed"] or ZERO, currency)
        stores.setdefault(currency, []).append({
            "partner": row["partner__name"],
            "store": row["store"],
            "country": row["country"],
            "raised": raised,
            "reversed": reversed_total,
            "net_raised": quantize(raised - reversed_total, currency),
            "items_sold": row["sold"] or 0,
            "items_returned": row["returned"] or 0,
        })
    for listed in stores.values():
        listed.sort(key=lambda store: (store["partner"].casefold(), store["store"].casefold(), store["country"]))
    return stores


def as_json(totals):
    def text(value):  # a Decimal as JSON wants it: a string, exact (amounts and the goal's percentage)
        return None if value is None else format(value, "f")

    def texts(figures):
        return {key: (text(value) if isinstance(value, Decimal) else value) for key, value in figures.items()}

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
                "beneficiaries": [texts(b) for b in s["beneficiaries"]],
                "sources": {name: texts(figures) for name, figures in s["sources"].items()},
                "published_stores": [texts(store) for store in s["published_stores"]],
            }
            for s in totals["currencies"]
        ],
        "ledger": {"seq": totals["ledger"][0], "hash": totals["ledger"][1]},
    }
