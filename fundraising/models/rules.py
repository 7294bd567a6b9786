"""Beneficiaries and share rules: which share of profit is donated, and how it is split (integer weights)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from fundraising.allocation import BPS_WHOLE
from fundraising.exceptions import RuleInUse

# A slug that is also a valid beancount account component once capitalised, and safe in CSV cells.
slug_validator = RegexValidator(
    r"^[a-z0-9]+(?:-[a-z0-9]+)*$", _("Lower-case letters, digits and single dashes between them.")
)


class Beneficiary(models.Model):
    """A group the campaign funds. Its real name is for staff; what the public sees of it is its visibility's:
    since 2023 a Russian court treats the "international LGBT movement" as extremist, so naming a Russian group
    beside what it receives, and when, can endanger it. Hence the default: only in the totals."""

    class Visibility(models.TextChoices):
        NAMED = "named", _("Named: its real name and figures are public")
        ALIASED = "aliased", _("Aliased: its figures are public under its public name")
        AGGREGATED = "aggregated", _("Aggregated: only in the public totals")

    name = models.CharField(_("name"), max_length=200, unique=True)
    public_name = models.CharField(
        _("public name"), max_length=100, blank=True,
        help_text=_("What the public pages call an aliased group, e.g. “Group A”: never its real name."),
    )
    visibility = models.CharField(
        _("public visibility"), max_length=12, choices=Visibility.choices, default=Visibility.AGGREGATED,
    )
    slug = models.SlugField(_("slug"), max_length=80, unique=True, validators=[slug_validator])
    description = models.CharField(_("short description"), max_length=500, blank=True)
    country = models.CharField(_("country"), max_length=2, help_text=_("ISO 3166-1 alpha-2 code, e.g. RU"))
    active = models.BooleanField(_("active"), default=True)
    default_weight = models.PositiveIntegerField(
        _("default weight"), default=1, validators=[MinValueValidator(1)],
        help_text=_("Weight proposed when a new share rule is set; each rule stores its own weights."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("beneficiary")
        verbose_name_plural = _("beneficiaries")
        constraints = [
            models.CheckConstraint(condition=Q(default_weight__gt=0), name="beneficiary_default_weight_positive"),
            models.CheckConstraint(condition=~Q(visibility="aliased") | ~Q(public_name=""),
                                   name="beneficiary_aliased_has_public_name"),
            models.UniqueConstraint(fields=["public_name"], condition=~Q(public_name=""),
                                    name="beneficiary_public_name_unique"),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        super().clean()
        if self.visibility == self.Visibility.ALIASED and not self.public_name.strip():
            raise ValidationError({"public_name": _("An aliased group needs a public name.")})
        if self.public_name and self.public_name.strip().casefold() == self.name.strip().casefold():
            raise ValidationError({"public_name": _("The public name must not be the group's real name.")})

    @property
    def public_label(self):
        """What public pages, feeds and receipts call the group; None when it is only in the totals."""
        if self.visibility == self.Visibility.NAMED:
            return self.name
        if self.visibility == self.Visibility.ALIASED:
            return self.public_name
        return None

    @property
    def public_key(self):
        """The group's key in public pages and feeds (its slug when named, from its alias when aliased)."""
        if self.visibility == self.Visibility.NAMED:
            return self.slug
        if self.visibility == self.Visibility.ALIASED:
            return slugify(self.public_name)
        return None


class ShareRule(models.Model):
    """The share of each line's profit that is donated, from ``valid_from`` until ``valid_to``."""

    share_bps = models.PositiveIntegerField(
        _("share (basis points)"), validators=[MaxValueValidator(BPS_WHOLE)],
        # Translators: a literal percent sign, not a format. xgettext:no-python-format
        help_text=_("5000 = 50 % of the profit."),
    )
    valid_from = models.DateTimeField(_("valid from"), default=timezone.now, db_index=True)
    valid_to = models.DateTimeField(_("valid to"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("created by"),
    )
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-valid_from"]
        verbose_name = _("share rule")
        verbose_name_plural = _("share rules")
        constraints = [
            models.CheckConstraint(condition=Q(share_bps__lte=BPS_WHOLE), name="share_rule_bps_range"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=models.F("valid_from")),
                name="share_rule_valid_to_after_valid_from",
            ),
        ]

    def __str__(self):
        return f"{self.share_bps / 100:g} % from {self.valid_from:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        # Closing a rule (valid_to) is how it is replaced; changing what it said is rewriting history.
        if self.pk is not None and not self._state.adding:
            before = ShareRule.objects.filter(pk=self.pk).values("share_bps", "valid_from").first()
            if before and (before["share_bps"], before["valid_from"]) != (self.share_bps, self.valid_from):
                if self.is_used():
                    raise RuleInUse("this share rule was used by orders: set a new rule instead of editing it")
        super().save(*args, **kwargs)

    def is_used(self):
        return self.breakdowns.exists()


class ShareRuleBeneficiary(models.Model):
    rule = models.ForeignKey(ShareRule, on_delete=models.CASCADE, related_name="allocations")
    beneficiary = models.ForeignKey(Beneficiary, on_delete=models.PROTECT, related_name="rule_allocations")
    weight = models.PositiveIntegerField(_("weight"), validators=[MinValueValidator(1)])

    class Meta:
        ordering = ["rule", "beneficiary_id"]
        verbose_name = _("share rule beneficiary")
        constraints = [
            models.UniqueConstraint(fields=["rule", "beneficiary"], name="share_rule_beneficiary_unique"),
            models.CheckConstraint(condition=Q(weight__gt=0), name="share_rule_beneficiary_weight_positive"),
        ]

    def __str__(self):
        return f"{self.beneficiary} × {self.weight}"

    def save(self, *args, **kwargs):
        if self.rule_id and self.rule.is_used():
            raise RuleInUse("this share rule was used by orders: its weights cannot change")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.rule.is_used():
            raise RuleInUse("this share rule was used by orders: its weights cannot change")
        return super().delete(*args, **kwargs)
