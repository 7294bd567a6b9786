"""Load the P6 campaign's demo beneficiaries, share rule and sales partner (idempotent).

Beneficiaries are looked up by slug and only created when missing (existing ones are never modified,
so staff edits survive a re-run). The campaign rule, 50 % of profit (5000 basis points) split equally
among the beneficiaries, is set only when no share rule is in force: an existing rule is history and
is left alone. Prints what it created, or "nothing to do".
"""

import datetime as dt

from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from fundraising.models import Beneficiary, OrderLineBreakdown, Partner, ShareRule
from fundraising.selectors import rule_in_force
from fundraising.services import set_share_rule

CAMPAIGN_SHARE_BPS = 5000
#: The producer and retail partner whose sales reports are imported (import_partner_sales).
PARTNER = {"slug": "american-apparel", "name": "American Apparel"}

# Aliased: the public pages and feeds show "Group A" and its figures, never the real name (README, "Recipients kept
# safe"): publishing which Russian group receives what, and when, can endanger it.
BENEFICIARIES = [
    {
        "slug": "russian-lgbt-network",
        "public_name": "Group A",
        "visibility": "aliased",
        "name": "Russian LGBT Network",
        "country": "RU",
        "description": "Interregional human-rights organisation founded in St Petersburg in 2006: legal and "
                       "psychological help for LGBT+ people in Russia, and emergency help to leave the country.",
    },
    {
        "slug": "coming-out-st-petersburg",
        "public_name": "Group B",
        "visibility": "aliased",
        "name": "Coming Out St. Petersburg",
        "country": "RU",
        "description": "LGBT+ initiative group founded in St Petersburg in 2008: community support, "
                       "psychological and legal counselling, documentation of discrimination.",
    },
    {
        "slug": "sphere-foundation",
        "public_name": "Group C",
        "visibility": "aliased",
        "name": "Sphere Foundation",
        "country": "RU",
        "description": "Russian charitable foundation established in 2011 to support LGBT+ initiatives and "
                       "human-rights defenders across Russia.",
    },
]


def campaign_start():
    """A year back, so `simulate_sales --days N` (N <= 365) places donating orders on past days; but never before
    an order already snapshotted or a rule already recorded (history is not rewritten: set_share_rule refuses)."""
    start = timezone.now() - dt.timedelta(days=365)
    latest = [value for value in (
        OrderLineBreakdown.objects.aggregate(last=Max("snapshotted_at"))["last"],
        ShareRule.objects.aggregate(last=Max("valid_from"))["last"],
    ) if value is not None]
    return max([start] + [value + dt.timedelta(microseconds=1) for value in latest])


class Command(BaseCommand):
    help = "Load the P6 demo beneficiaries and the campaign's 50 % share rule (idempotent)."

    def handle(self, *args, **options):
        created = []
        with transaction.atomic():
            for spec in BENEFICIARIES:
                beneficiary, new = Beneficiary.objects.get_or_create(
                    slug=spec["slug"],
                    defaults={key: spec[key] for key in ("name", "country", "description", "public_name",
                                                         "visibility")},
                )
                if new:
                    created.append(f"beneficiary {beneficiary.name}")
            # Migration 0011 seeds it too; a flushed database (tests, `manage.py flush`) gets it back here.
            partner, new = Partner.objects.get_or_create(slug=PARTNER["slug"], defaults={"name": PARTNER["name"]})
            if new:
                created.append(f"sales partner {partner.name}")
            if rule_in_force() is None:
                beneficiaries = list(
                    Beneficiary.objects.filter(slug__in=[spec["slug"] for spec in BENEFICIARIES], active=True)
                    .order_by("pk")
                )
                rule = set_share_rule(
                    share_bps=CAMPAIGN_SHARE_BPS,
                    weights=[(beneficiary, beneficiary.default_weight) for beneficiary in beneficiaries],
                    note="P6 campaign: half of each sale's profit, split among the Russian LGBT groups",
                    valid_from=campaign_start(),
                )
                created.append(
                    f"share rule {rule.share_bps / 100:g} % split among "
                    + ", ".join(beneficiary.name for beneficiary in beneficiaries)
                )
        if created:
            for line in created:
                self.stdout.write(f"created {line}")
        else:
            self.stdout.write("P6 fundraising already loaded: nothing to do.")
