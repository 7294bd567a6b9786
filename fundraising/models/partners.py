"""Partner sales: a retail or wholesale partner's sales reports and every line posted from them (issue 19).

A ``Partner`` (American Apparel, seeded) sends periodic reports; each import that posts anything is a
``PartnerReport`` (the file's name and SHA-256, its period, who imported it and when). Every report line posted is a
``PartnerSaleLine`` holding what the partner reported and every figure of its donation (revenue, unit cost, fee,
profit, rule and share, donation) with its ``PartnerSaleLinePart`` per beneficiary, and its one ledger transaction
(``partner:<partner slug>:<line id>``). A return line (negative quantity) stores what it reversed: ``donation`` and
the parts are then the amounts taken back (never negative). Lines and parts are append-only, like the ledger.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fundraising.allocation import BPS_WHOLE
from fundraising.models.common import AMOUNT, AppendOnlyModel
from fundraising.models.ledger import LedgerTransaction
from fundraising.models.rules import Beneficiary, ShareRule, slug_validator


class Partner(models.Model):
    """A producer or retail partner whose sales reports are imported (stores, wholesale)."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    slug = models.SlugField(_("slug"), max_length=80, unique=True, validators=[slug_validator])
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    publish_stores = models.BooleanField(
        _("publish per-store figures"), default=False,
        help_text=_("Show what each of this partner's stores raised on the public transparency page and JSON."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("sales partner")

    def __str__(self):
        return self.name


class PartnerReport(models.Model):
    """One import of a partner's sales report that posted at least one line."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="reports")
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    file_name = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(_("SHA-256 of the file"), max_length=64)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    imported_at = models.DateTimeField(_("imported at"), default=timezone.now)

    class Meta:
        ordering = ["-imported_at", "-id"]
        verbose_name = _("partner sales report")
        constraints = [
            models.CheckConstraint(condition=Q(period_end__gte=models.F("period_start")),
                                   name="partner_report_period_ordered"),
        ]

    def __str__(self):
        return f"{self.partner} {self.period_start}..{self.period_end} ({self.file_name})"


class PartnerSaleLine(AppendOnlyModel):
    """One posted line of a partner's report: what was reported, every figure of its donation, its transaction."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="lines")
    report = models.ForeignKey(PartnerReport, on_delete=models.PROTECT, related_name="lines")
    line_id = models.CharField(_("line id"), max_length=64)
    sold_on = models.DateField(_("sold on"))
    store = models.CharField(_("store"), max_length=200)
    country = models.CharField(_("country"), max_length=2)
    sku = models.CharField(_("SKU"), max_length=128)
    quantity = models.IntegerField(_("quantity"), help_text=_("Negative for a return."))
    unit_price = models.DecimalField(_("unit price excl. tax"), **AMOUNT)
    currency = models.CharField(_("currency"), max_length=3)
    unit_cost = models.DecimalField(_("unit cost"), **AMOUNT)
    unit_cost_given = models.BooleanField(
        _("unit cost given"), help_text=_("Given in the report; otherwise the catalogue's, snapshotted at import."),
    )
    fee = models.DecimalField(_("partner fee"), **AMOUNT)
    revenue = models.DecimalField(_("revenue excl. tax"), **AMOUNT)
    profit = models.DecimalField(_("profit"), **AMOUNT, help_text=_("0 for a return."))
    rule = models.ForeignKey(ShareRule, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    share_bps = models.PositiveIntegerField(_("share (basis points)"))
    donation = models.DecimalField(
        _("donation"), **AMOUNT, help_text=_("Sale: the donation posted; return: the donation reversed.")
    )
    transaction = models.OneToOneField(
        LedgerTransaction, on_delete=models.PROTECT, related_name="partner_line"
    )

    class Meta(AppendOnlyModel.Meta):
        ordering = ["partner_id", "id"]
        verbose_name = _("partner sale line")
        constraints = [
            models.UniqueConstraint(fields=["partner", "line_id"], name="partner_line_unique"),
            models.CheckConstraint(condition=~Q(quantity=0), name="partner_line_quantity_not_zero"),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0, unit_cost__gte=0, fee__gte=0, revenue__gte=0, profit__gte=0,
                            donation__gte=0),
                name="partner_line_amounts_not_negative",
            ),
            models.CheckConstraint(condition=Q(share_bps__lte=BPS_WHOLE), name="partner_line_share_bps_range"),
        ]
        indexes = [models.Index(fields=["partner", "sku", "currency"], name="partner_line_sku")]

    def __str__(self):
        return f"{self.partner_id}:{self.line_id}"

    @property
    def is_return(self):
        return self.quantity < 0


class PartnerSaleLinePart(AppendOnlyModel):
    """A beneficiary's part of a partner line's donation (sale) or of what it reversed (return)."""

    line = models.ForeignKey(PartnerSaleLine, on_delete=models.PROTECT, related_name="parts")
    beneficiary = models.ForeignKey(Beneficiary, on_delete=models.PROTECT, related_name="+")
    weight = models.PositiveIntegerField(_("weight"), null=True, blank=True, help_text=_("Sales only."))
    amount = models.DecimalField(_("amount"), **AMOUNT)

    class Meta(AppendOnlyModel.Meta):
        ordering = ["line_id", "beneficiary_id"]
        verbose_name = _("partner sale line part")
        constraints = [
            models.UniqueConstraint(fields=["line", "beneficiary"], name="partner_line_part_unique"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="partner_line_part_not_negative"),
        ]

    def __str__(self):
        return f"{self.line_id}:{self.beneficiary_id} {self.amount}"
