"""Partners' sales reports as the ledger holds them: totals per partner and currency (services write, selectors
read). A sale line's ``donation`` is what it credited to the payables, a return line's what it reversed, so these
totals equal the ledger's partner sales and returns (``verify_ledger`` checks each line against its transaction).
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, Sum

from fundraising.models import Partner, PartnerSaleLine
from fundraising.money import normalise, quantize

ZERO = Decimal(0)


@dataclass(frozen=True)
class PartnerTotals:
    """A partner's posted report lines in one currency: units and revenue sold and returned, donation given and
    reversed by returns, ``net = donated - reversed``."""

    partner: Partner
    currency: str
    lines: int
    units_sold: int
    units_returned: int
    revenue_sold: Decimal
    revenue_returned: Decimal
    donated: Decimal
    reversed: Decimal
    net: Decimal


def partner_totals(*, currency=None):
    """``[PartnerTotals]`` by currency then partner name (of ``currency`` only, when given): two queries."""
    rows = PartnerSaleLine.objects.order_by()
    if currency:
        rows = rows.filter(currency=normalise(currency))
    sale, ret = Q(quantity__gt=0), Q(quantity__lt=0)
    rows = list(rows.values("partner_id", "currency").annotate(
        lines=Count("id"), units_sold=Sum("quantity", filter=sale), units_returned=Sum("quantity", filter=ret),
        revenue_sold=Sum("revenue", filter=sale), revenue_returned=Sum("revenue", filter=ret),
        donated=Sum("donation", filter=sale), reversed=Sum("donation", filter=ret),
    ))
    partners = Partner.objects.in_bulk({row["partner_id"] for row in rows})
    out = []
    for row in rows:
        code = row["currency"]
        donated, reversed_ = quantize(row["donated"] or ZERO, code), quantize(row["reversed"] or ZERO, code)
        out.append(PartnerTotals(
            partner=partners[row["partner_id"]], currency=code, lines=row["lines"],
            units_sold=row["units_sold"] or 0, units_returned=-(row["units_returned"] or 0),
            revenue_sold=quantize(row["revenue_sold"] or ZERO, code),
            revenue_returned=quantize(row["revenue_returned"] or ZERO, code),
            donated=donated, reversed=reversed_, net=quantize(donated - reversed_, code),
        ))
    return sorted(out, key=lambda t: (t.currency, t.partner.name.casefold()))
