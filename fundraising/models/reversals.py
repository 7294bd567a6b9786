"""What a by-line refund reversed: the lines, their quantities, and each beneficiary's part."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from fundraising.models.common import AMOUNT, AppendOnlyModel
from fundraising.models.ledger import LedgerTransaction
from fundraising.models.rules import Beneficiary


class ReversalLine(AppendOnlyModel):
    """The quantity of an order line that a by-line refund reversed (its parts below)."""

    transaction = models.ForeignKey(LedgerTransaction, on_delete=models.PROTECT, related_name="reversal_lines")
    line = models.ForeignKey("order.Line", on_delete=models.PROTECT, related_name="donation_reversals")
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta(AppendOnlyModel.Meta):
        ordering = ["transaction_id", "line_id"]
        constraints = [
            models.UniqueConstraint(fields=["transaction", "line"], name="reversal_line_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="reversal_line_quantity_positive"),
        ]

    def __str__(self):
        return f"{self.transaction_id}: line {self.line_id} x{self.quantity}"


class ReversalLinePart(AppendOnlyModel):
    reversal_line = models.ForeignKey(ReversalLine, on_delete=models.PROTECT, related_name="parts")
    beneficiary = models.ForeignKey(Beneficiary, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(_("amount"), **AMOUNT)

    class Meta(AppendOnlyModel.Meta):
        ordering = ["reversal_line_id", "beneficiary_id"]
        constraints = [
            models.UniqueConstraint(fields=["reversal_line", "beneficiary"], name="reversal_line_part_unique"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="reversal_line_part_not_negative"),
        ]

    def __str__(self):
        return f"{self.reversal_line_id}:{self.beneficiary_id} {self.amount}"
