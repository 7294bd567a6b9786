"""Partner sales: posting a partner's sales report to the donation ledger, once per report line (issue 19).

``import_partner_report`` reads the report (``fundraising.partner_reports``), then, in one database transaction
under the partner's row lock (the lock order: the partner row, then ledger accounts by id, as ``ledger`` says),
posts every new line through ``ledger._post`` with the key ``partner:<partner slug>:<line id>``:

- a sale: the online sale's rule (``allocation.compute_breakdown``: revenue − unit cost × quantity − the line's
  fee, never below 0; the share of the rule in force on ``sold_on``, rounded half-up once; largest-remainder
  split) — debit the campaign donations, credit each beneficiary's payable;
- a return (negative quantity): the donation posted for that SKU, currency and partner, reversed pro-rata to the
  quantity returned out of the quantity sold (``allocation.reversal_parts``, cumulative, so a series of returns of
  everything sold reverses exactly what was posted), never more than was posted per beneficiary; a payable never
  goes below zero (what was paid out goes to the receivable, as for online refunds).

The lines are posted unsealed and sealed into the public chain in one step just before the commit
(``chain.seal_many``), so the chain's end, which every online sale locks to seal its own transaction, is held for
that step only, not for the whole file. The preview is the same code rolled back (and never seals), so the figures
staff confirm are the figures posted.
"""

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from fundraising import allocation, chain
from fundraising.models import Account, Partner, PartnerReport, PartnerSaleLine, PartnerSaleLinePart
from fundraising.money import quantize
from fundraising.partner_reports import ReportLine, Refusal, read_report
from fundraising.selectors import rule_in_force
from fundraising.services.ledger import ZERO, Kind, _account, _payable_accounts, _post
from fundraising.services.reversals import _reversal_entries

#: Fields of a posted line compared with a line of the same id in a later report.
COMPARED = ("sold_on", "store", "country", "sku", "quantity", "unit_price", "currency", "fee", "unit_cost_given")


@dataclass
class LineResult:
    """A valid line's figures: ``status`` "new" (posted, or would be) or "posted before" (nothing new)."""

    line: ReportLine
    status: str
    profit: Decimal
    donation: Decimal
    parts: dict = field(default_factory=dict)  # {beneficiary id: amount} donated (sale) or reversed (return)
    share_bps: int = 0
    note: str = ""


@dataclass
class ImportResult:
    partner: Partner
    lines: list
    refused: list
    posted: bool = False
    report: PartnerReport | None = None

    @property
    def new_lines(self):
        return [result for result in self.lines if result.status == "new"]

    @property
    def status(self):
        """"posted", "nothing to do" (every line posted before), "refused" or "preview"."""
        if self.posted:
            return "posted"
        if self.refused:
            return "refused"
        return "preview" if self.new_lines else "nothing to do"

    def totals(self):
        """``{currency: {...}}``: lines, revenue sold and returned, donation posted and reversed (new lines)."""
        totals = {}
        for result in self.new_lines:
            row = totals.setdefault(result.line.currency, {
                "lines": 0, "sold": ZERO, "returned": ZERO, "donated": ZERO, "reversed": ZERO})
            row["lines"] += 1
            if result.line.is_return:
                row["returned"] += result.line.revenue
                row["reversed"] += result.donation
            else:
                row["sold"] += result.line.revenue
                row["donated"] += result.donation
        return dict(sorted(totals.items()))


class _Rollback(Exception):
    pass


def find_partner(name):
    """The partner named ``name`` (its name or slug, case-insensitive). Raises ``Partner.DoesNotExist``."""
    from django.db.models import Q

    return Partner.objects.get(Q(name__iexact=name.strip()) | Q(slug__iexact=name.strip()))


def import_partner_report(*, partner, data, file_name, imported_by=None, valid_only=False, dry_run=False):
    """Import a partner's sales report (``data``: the file's bytes); return an ``ImportResult``.

    Posts one ledger transaction per new valid line, all in one database transaction (nothing half-written), when
    ``dry_run`` is false and either no line is refused or ``valid_only`` is true (staff confirmed the valid lines
    only); otherwise posts nothing and returns the preview (the very figures posting would give). A line whose id was
    posted before with the same content is "posted before" (nothing new); with different content it is refused
    (corrections are reversing lines with new ids). Concurrent imports of one partner wait for each other (the
    partner's row lock), so each line is posted once. Raises ``TypeError`` for data that is not bytes.
    """
    parsed = read_report(data)
    sha256 = hashlib.sha256(data).hexdigest()
    with transaction.atomic():
        partner = Partner.objects.select_for_update().get(pk=partner.pk)
        refused = list(parsed.refused)
        fresh, results = [], {}
        previous = {
            row.line_id: row for row in PartnerSaleLine.objects.filter(
                partner=partner, line_id__in=[line.line_id for line in parsed.lines]
            ).prefetch_related("parts")
        }
        for line in parsed.lines:
            before = previous.get(line.line_id)
            if before is None:
                fresh.append(line)
                continue
            changed = _differences(before, line)
            if changed:
                refused.append(Refusal(line.number, f"line_id {line.line_id!r} was posted before with "
                                       f"{'; '.join(changed)}: a correction is a reversing line with a new id",
                                       line.line_id))
            else:
                results[line.number] = LineResult(
                    line=line, status="posted before", profit=before.profit, donation=before.donation,
                    parts={part.beneficiary_id: part.amount for part in before.parts.all()},
                    share_bps=before.share_bps,
                )
        refused.sort(key=lambda refusal: refusal.number)
        commit = bool(fresh) and not dry_run and (valid_only or not refused)
        report = None
        try:
            with transaction.atomic():
                if fresh:
                    days = [line.sold_on for line in fresh]
                    report = PartnerReport.objects.create(
                        partner=partner, period_start=min(days), period_end=max(days), file_name=file_name[:255],
                        sha256=sha256, imported_by=imported_by,
                    )
                run = _Run()
                for line in fresh:
                    results[line.number] = _post_line(partner=partner, report=report, line=line,
                                                      imported_by=imported_by, run=run)
                if not commit:
                    raise _Rollback
                # The public chain's end is locked from here to the commit only: online sales seal their
                # transactions meanwhile, and a preview (rolled back) never takes that lock.
                chain.seal_many(run.posted)
        except _Rollback:
            report = None
        lines = [results[line.number] for line in parsed.lines if line.number in results]
        return ImportResult(partner=partner, lines=lines, refused=refused, posted=commit, report=report)


def _differences(before, line):
    changed = []
    for name in COMPARED:
        old, new = getattr(before, name), getattr(line, name)
        if old != new:
            changed.append(f"{name} {old} (now {new})")
    if line.unit_cost_given and before.unit_cost_given and before.unit_cost != line.unit_cost:
        changed.append(f"unit_cost {quantize(before.unit_cost, before.currency)} (now {line.unit_cost})")
    return changed


class _Run:
    """What one import reads once and reuses for every line: the share rule (and its weights) per day sold, the
    campaign donations account and the payables per currency; and the ``(transaction, entries)`` posted, unsealed,
    for ``chain.seal_many``. Rules and accounts never change in a way that matters here during an import: a rule
    is never edited once in force for a past day, and accounts are created once and never deleted."""

    def __init__(self):
        self.posted = []
        self.rules = {}
        self.donations = {}
        self.payables = {}

    def rule(self, day):
        """``(rule, weights)`` in force at the end of ``day``, or ``(None, None)``."""
        if day not in self.rules:
            rule = rule_in_force(at=_end_of_day(day))
            weights = None
            if rule is not None:
                weights = sorted((a.beneficiary_id, a.weight) for a in rule.allocations.all())
            self.rules[day] = (rule, weights)
        return self.rules[day]

    def donations_account(self, currency):
        if currency not in self.donations:
            self.donations[currency] = _account(Account.Kind.DONATIONS, currency)
        return self.donations[currency]

    def payable_accounts(self, currency, beneficiary_ids):
        known = self.payables.setdefault(currency, {})
        missing = [b for b in beneficiary_ids if b not in known]
        if missing:
            known.update(_payable_accounts(currency, missing))
        return {b: known[b] for b in beneficiary_ids}


def _post_line(*, partner, report, line, imported_by, run):
    """Post one new line, unsealed (``run.posted`` collects it for ``chain.seal_many``)."""
    key = f"partner:{partner.slug}:{line.line_id}"
    reference = f"{partner.slug}:{line.line_id}"
    currency = line.currency
    revenue = quantize(line.revenue, currency)
    if line.is_return:
        parts, note = _return_parts(partner=partner, line=line)
        notes = [note] if note else []
        entries = _reversal_entries(parts=parts, currency=currency, notes=notes)
        reversed_total = quantize(sum(parts.values(), ZERO), currency)
        memo = (f"Return at {partner.name}, {line.store} ({line.country}), {line.sold_on}: {-line.quantity} × "
                f"{line.sku} ({revenue} {currency}); donation reversed {reversed_total} {currency}")
        if notes:
            memo += "; " + "; ".join(notes)
        txn = _post(kind=Kind.PARTNER_RETURN, key=key, currency=currency, entries=entries, reference=reference,
                    basis_amount=revenue, memo=memo, created_by=imported_by, seal=False)
        run.posted.append((txn, entries))
        row = _store(partner, report, line, txn, revenue=revenue, profit=ZERO, rule=None, share_bps=0,
                     donation=reversed_total)
        PartnerSaleLinePart.objects.bulk_create(
            PartnerSaleLinePart(line=row, beneficiary_id=b, amount=amount)
            for b, amount in sorted(parts.items()) if amount > 0
        )
        return LineResult(line=line, status="new", profit=ZERO, donation=reversed_total,
                          parts={b: a for b, a in sorted(parts.items()) if a > 0}, note="; ".join(notes))

    rule, weights = run.rule(line.sold_on)
    if rule is None:
        raise ValueError(f"line {line.number}: no share rule in force on {line.sold_on}")
    [result] = allocation.compute_breakdown(
        currency=currency,
        lines=[allocation.LineInput(key=0, revenue_excl_tax=revenue, unit_cost=line.unit_cost,
                                    quantity=line.quantity)],
        fee=line.fee, share_bps=rule.share_bps, weights=weights,
    )
    parts = {b: amount for b, amount in result.parts if amount > 0}
    entries = []
    if result.donation > 0:
        entries.append((run.donations_account(currency), result.donation, ZERO))
        payables = run.payable_accounts(currency, sorted(parts))
        for beneficiary_id in sorted(parts):
            entries.append((payables[beneficiary_id], ZERO, parts[beneficiary_id]))
    memo = (f"Sale at {partner.name}, {line.store} ({line.country}), {line.sold_on}: {line.quantity} × {line.sku} "
            f"({revenue} {currency}): donation {result.donation} {currency} = {rule.share_bps / 100:g} % of profit "
            f"{result.profit} {currency}; partner fee {quantize(line.fee, currency)} {currency}; unit cost "
            f"{quantize(line.unit_cost, currency)} {currency} ({'reported' if line.unit_cost_given else 'catalogue'})")
    txn = _post(kind=Kind.PARTNER_SALE, key=key, currency=currency, entries=entries, reference=reference,
                basis_amount=revenue, memo=memo, created_by=imported_by, seal=False)
    run.posted.append((txn, entries))
    row = _store(partner, report, line, txn, revenue=revenue, profit=result.profit, rule=rule,
                 share_bps=rule.share_bps, donation=result.donation)
    weight_of = dict(weights)
    PartnerSaleLinePart.objects.bulk_create(
        PartnerSaleLinePart(line=row, beneficiary_id=b, weight=weight_of[b], amount=amount)
        for b, amount in sorted(parts.items())
    )
    return LineResult(line=line, status="new", profit=result.profit, donation=result.donation, parts=parts,
                      share_bps=rule.share_bps)


def _store(partner, report, line, txn, *, revenue, profit, rule, share_bps, donation):
    return PartnerSaleLine.objects.create(
        partner=partner, report=report, line_id=line.line_id, sold_on=line.sold_on, store=line.store,
        country=line.country, sku=line.sku, quantity=line.quantity, unit_price=line.unit_price,
        currency=line.currency, unit_cost=line.unit_cost, unit_cost_given=line.unit_cost_given, fee=line.fee,
        revenue=revenue, profit=profit, rule=rule, share_bps=share_bps, donation=donation, transaction=txn,
    )


def _return_parts(*, partner, line):
    """What a return reverses per beneficiary: the SKU's donation from this partner in this currency, pro-rata to the
    quantity returned (cumulative) out of the quantity sold, capped at what was posted.

    The returns counted so far are replayed in posting order, each capped at what had been sold by then, so units
    returned beyond the sales (returned elsewhere, or sold before these reports) are never counted against a later
    sale of the same SKU.
    """
    same = PartnerSaleLine.objects.filter(partner=partner, sku=line.sku, currency=line.currency)
    sold = returned = 0
    for quantity in same.order_by("id").values_list("quantity", flat=True):
        if quantity > 0:
            sold += quantity
        else:
            returned = min(returned - quantity, sold)
    posted = _part_sums(PartnerSaleLinePart.objects.filter(line__in=same.filter(quantity__gt=0)))
    reversed_so_far = _part_sums(PartnerSaleLinePart.objects.filter(line__in=same.filter(quantity__lt=0)))
    if not posted or sold == 0:
        return {}, f"no donation was posted for {line.sku} in {line.currency} from {partner.name}: nothing to reverse"
    note = ""
    if returned - line.quantity > sold:
        note = (f"returned in total {returned - line.quantity} of {sold} sold: capped at everything posted for "
                f"{line.sku} in {line.currency}")
    parts = allocation.reversal_parts(
        posted=posted, reversed_so_far=reversed_so_far, refunded_total=Decimal(min(returned - line.quantity, sold)),
        captured_total=Decimal(sold), currency=line.currency,
    )
    return parts, note


def _part_sums(parts):
    sums = defaultdict(lambda: ZERO)
    for beneficiary_id, amount in parts.values_list("beneficiary_id", "amount"):
        sums[beneficiary_id] += amount
    return {b: amount for b, amount in sorted(sums.items()) if amount > 0}


def _end_of_day(day):
    return timezone.make_aware(timezone.datetime.combine(day, timezone.datetime.max.time()))


def summary(result):
    """The import's summary, one line each, for the command and the dashboard."""
    out = [f"{result.partner.name}: {len(result.lines) + len(result.refused)} line(s): "
           f"{len(result.new_lines)} new, {len(result.lines) - len(result.new_lines)} posted before, "
           f"{len(result.refused)} refused"]
    for currency, row in result.totals().items():
        out.append(f"  {currency}: {row['lines']} line(s), sold {row['sold']}, returned {row['returned']}, "
                   f"donation {row['donated']}, reversed {row['reversed']}")
    for refusal in result.refused:
        out.append(f"  refused {refusal}")
    status = result.status
    if status == "posted":
        out.append(f"posted {len(result.new_lines)} line(s)")
    elif status == "nothing to do":
        out.append("every line was posted before: nothing new to post")
    elif status == "refused":
        out.append("nothing posted: refused lines (fix the file, or confirm the valid lines only)")
    else:
        out.append("preview only: nothing posted")
    return out


def set_store_publication(*, partner, publish, by=None):
    """Publish (``publish`` true) or stop publishing ``partner``'s per-store figures on the public transparency page
    and JSON (``fundraising.public``); ``by``: the staff user, logged. Returns whether anything changed. One UPDATE
    of the partner's row (on PostgreSQL it waits for an import of that partner in progress, which holds the row)."""
    import logging

    publish = bool(publish)
    changed = Partner.objects.filter(pk=partner.pk).exclude(publish_stores=publish).update(publish_stores=publish)
    partner.publish_stores = publish
    if changed:
        logging.getLogger(__name__).info("partner %s: per-store figures %s by %s", partner.slug,
                                         "published" if publish else "unpublished", by)
    return bool(changed)
