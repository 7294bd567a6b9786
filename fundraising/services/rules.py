"""What staff configure: the share rule, the beneficiaries it names, the campaign goal.

Rules are never edited: ``set_share_rule`` closes the rule in force and starts a new one, so every
order keeps the rule that was in force when it was placed.
"""

from collections.abc import Mapping, Sequence

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from fundraising import allocation
from fundraising.models import Beneficiary, CampaignGoal, OrderLineBreakdown, ShareRule, ShareRuleBeneficiary
from fundraising.money import normalise, quantize


def set_share_rule(*, share_bps, weights, valid_from=None, created_by=None, note=""):
    """Start a new share rule at ``valid_from`` (default now), closing the rule in force until then.

    ``weights``: ``[(beneficiary, weight), ...]`` with positive int weights, active saved beneficiaries,
    no duplicate. Rules are never edited: orders keep the rule that was in force when they were placed.
    Invariants: rules do not overlap (the open rule's ``valid_to`` becomes ``valid_from``); a rule may
    not start before or at the start of an existing rule, nor before an order snapshot already taken
    under the old rule (that would rewrite history).
    Raises ``TypeError``/``ValueError`` for invalid input; nothing is written then.
    """
    if isinstance(share_bps, bool) or not isinstance(share_bps, int):
        raise TypeError(f"share_bps must be an int number of basis points, not {type(share_bps).__name__}")
    if not 0 <= share_bps <= allocation.BPS_WHOLE:
        raise ValueError(f"share_bps must be between 0 and {allocation.BPS_WHOLE}, got {share_bps}")
    if isinstance(weights, (str, bytes, Mapping)) or not isinstance(weights, Sequence) or not weights:
        raise ValueError("weights must be a non-empty list of (beneficiary, weight) pairs")
    seen = set()
    for pair in weights:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"weights must hold (beneficiary, weight) pairs, got {pair!r}")
        beneficiary, weight = pair
        if not isinstance(beneficiary, Beneficiary) or beneficiary.pk is None:
            raise TypeError(f"not a saved beneficiary: {beneficiary!r}")
        if not beneficiary.active:
            raise ValueError(f"{beneficiary} is not active")
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 1:
            raise ValueError(f"the weight of {beneficiary} must be a positive int, got {weight!r}")
        if beneficiary.pk in seen:
            raise ValueError(f"{beneficiary} appears twice")
        seen.add(beneficiary.pk)
    valid_from = valid_from or timezone.now()
    if timezone.is_naive(valid_from):
        raise ValueError("valid_from must be an aware datetime")
    with transaction.atomic():
        rules = list(ShareRule.objects.select_for_update().order_by("pk"))
        later = [rule for rule in rules if rule.valid_from >= valid_from]
        if later:
            raise ValueError(f"a rule already starts at or after {valid_from.isoformat()}: rules are never rewritten")
        if OrderLineBreakdown.objects.filter(snapshotted_at__gte=valid_from).exists():
            raise ValueError(f"orders were already snapshotted after {valid_from.isoformat()} under the previous rule")
        ShareRule.objects.filter(Q(valid_to__isnull=True) | Q(valid_to__gt=valid_from)).update(valid_to=valid_from)
        rule = ShareRule.objects.create(
            share_bps=share_bps, valid_from=valid_from, created_by=created_by, note=note or ""
        )
        ShareRuleBeneficiary.objects.bulk_create(
            ShareRuleBeneficiary(rule=rule, beneficiary=beneficiary, weight=weight) for beneficiary, weight in weights
        )
        return rule


def save_beneficiary(*, beneficiary=None, name, slug, description="", country, active=True, default_weight=1):
    """Create a beneficiary, or update ``beneficiary`` with these fields; return it.

    Beneficiaries are never deleted (accounts, rules and breakdowns name them): a group leaves the
    campaign by being made inactive, which keeps it out of new share rules.
    Invariants (the model's validation, run here): unique name and slug, a valid slug, a positive
    default weight. Raises ``django.core.exceptions.ValidationError``; nothing is written then.
    """
    beneficiary = beneficiary if beneficiary is not None else Beneficiary()
    beneficiary.name, beneficiary.slug, beneficiary.description = name, slug, description
    beneficiary.country, beneficiary.active, beneficiary.default_weight = country, active, default_weight
    beneficiary.full_clean()
    beneficiary.save()
    return beneficiary


def set_campaign_goal(*, currency, amount, updated_by=None):
    """Set the goal shown on the public page in ``currency`` (0 hides it); return the ``CampaignGoal``.

    One goal per currency: an existing one is updated. The amount is rounded to the currency's minor
    unit. Raises ``ValueError`` for a negative amount or a currency that is not ISO 4217
    (``CurrencyError``); nothing is written then.
    """
    currency = normalise(currency)
    if amount < 0:
        raise ValueError(f"a goal cannot be negative: {amount} {currency}")
    with transaction.atomic():
        goal = CampaignGoal.objects.select_for_update().filter(currency=currency).first() or CampaignGoal(
            currency=currency
        )
        goal.amount = quantize(amount, currency)
        goal.updated_by = updated_by
        goal.save()
        return goal
