"""What staff configure, read: the share rule in force and its history, the beneficiaries, the goal."""

from django.db.models import Prefetch, Q
from django.utils import timezone

from fundraising.models import Beneficiary, CampaignGoal, ShareRule, ShareRuleBeneficiary


def rule_in_force(*, at=None):
    """The share rule in force at ``at`` (default now): ``valid_from <= at < valid_to``, or None."""
    at = at or timezone.now()
    return (
        ShareRule.objects.filter(Q(valid_to__isnull=True) | Q(valid_to__gt=at), valid_from__lte=at)
        .order_by("-valid_from")
        .prefetch_related("allocations__beneficiary")
        .first()
    )


def next_rule_change(*, after):
    """The first time after ``after`` at which a share rule starts or ends (the rule in force may change
    then), or None."""
    starts = ShareRule.objects.filter(valid_from__gt=after).order_by("valid_from").values_list("valid_from", flat=True)
    ends = ShareRule.objects.filter(valid_to__gt=after).order_by("valid_to").values_list("valid_to", flat=True)
    times = [t for t in (starts.first(), ends.first()) if t is not None]
    return min(times) if times else None


def share_rules():
    """Every share rule, newest first, with its creator and its weights (by beneficiary name) joined in."""
    weights = ShareRuleBeneficiary.objects.select_related("beneficiary").order_by("beneficiary__name")
    return (
        ShareRule.objects.select_related("created_by")
        .prefetch_related(Prefetch("allocations", queryset=weights))
        .order_by("-valid_from")
    )


def beneficiaries(*, active=None):
    """The beneficiaries by name; ``active``: only the active (True) or inactive (False) ones."""
    found = Beneficiary.objects.order_by("name")
    if active is not None:
        found = found.filter(active=active)
    return found


def campaign_goal(*, currency):
    """The campaign goal in ``currency``, or None when none was set."""
    return CampaignGoal.objects.filter(currency=currency).first()
