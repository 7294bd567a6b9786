"""Partner sales reports (issue 19): posted exactly like online sales, once per line, every mistake refused."""

import datetime as dt
from collections import defaultdict
from decimal import Decimal as D
from fractions import Fraction
from unittest import mock

import pytest
from django.utils import timezone

from fundraising.exceptions import AppendOnlyError
from fundraising.models import Account, LedgerTransaction, PartnerReport, PartnerSaleLine
from fundraising.partner_reports import MAX_BYTES
from fundraising.services import partners as partner_service
from fundraising.services.partners import import_partner_report
from fundraising.verification import ledger_violations
from tests.fundraising.support import ledger_counts
from tests.partners import support
from tests.partners.support import csv_bytes, row

CATALOGUE_COSTS = {("P6-TEE", "USD"): "10.00", ("P6-HOODIE", "USD"): "21.50", ("P6-PIN", "USD"): "1.25",
                   ("P6-TEE", "JPY"): "1400"}


def _import(partner, data, **kwargs):
    return import_partner_report(partner=partner, data=data, file_name="report.csv", **kwargs)


def _rule_of(day, rules):
    first, second = rules
    end = timezone.make_aware(dt.datetime.combine(day, dt.time.max))
    return second if end >= second.valid_from else first


def _weights(rule):
    return [(a.beneficiary_id, a.weight) for a in rule.allocations.order_by("beneficiary_id")]


def test_a_500_line_report_in_three_currencies_posts_every_donation_to_the_cent(partner, rules, skus):
    rows = support.generated_report(skus)
    assert {r["currency"] for r in rows} == {"USD", "EUR", "JPY"}
    assert sum(int(r["quantity"]) < 0 for r in rows) > 30

    result = _import(partner, csv_bytes(rows))

    assert result.status == "posted" and result.refused == [] and len(result.new_lines) == 500
    stored = {line.line_id: line for line in PartnerSaleLine.objects.prefetch_related("parts")}
    assert len(stored) == 500
    assert LedgerTransaction.objects.filter(idempotency_key__startswith="partner:american-apparel:").count() == 500
    posted, sold, returned, reversed_ = (defaultdict(lambda: defaultdict(int)), defaultdict(int), defaultdict(int),
                                         defaultdict(lambda: defaultdict(int)))
    donated_per_currency, last = defaultdict(int), {}
    for r in rows:
        currency, quantity, line = r["currency"], int(r["quantity"]), stored[r["line_id"]]
        parts = {part.beneficiary_id: support.to_minor(part.amount, currency) for part in line.parts.all()}
        bucket = (r["sku"], currency)
        last[bucket] = quantity
        if quantity > 0:
            rule = _rule_of(dt.date.fromisoformat(r["sold_on"]), rules)
            cost = support.to_minor(r["unit_cost"] or CATALOGUE_COSTS[bucket], currency)
            price, fee = support.to_minor(r["unit_price"], currency), support.to_minor(r["fee"] or "0", currency)
            profit = max(0, (price - cost) * quantity - fee)
            donation = support.half_up(Fraction(profit * rule.share_bps, 10000))
            expected = {k: v for k, v in support.largest_remainder(donation, _weights(rule)).items() if v}
            assert (support.to_minor(line.profit, currency), support.to_minor(line.donation, currency)) \
                == (profit, donation), r
            assert parts == expected, r
            assert line.rule_id == rule.pk and line.share_bps == rule.share_bps
            for key, value in parts.items():
                posted[bucket][key] += value
            sold[bucket] += quantity
            donated_per_currency[currency] += donation
        else:
            returned[bucket] = min(returned[bucket] - quantity, sold[bucket])
            whole = sum(posted[bucket].values())
            target = whole if returned[bucket] >= sold[bucket] else support.half_up(
                Fraction(whole * returned[bucket], sold[bucket]))
            amount = max(0, target - sum(reversed_[bucket].values()))
            assert support.to_minor(line.donation, currency) == amount == sum(parts.values()), r
            for key, value in parts.items():
                reversed_[bucket][key] += value
                assert reversed_[bucket][key] <= posted[bucket][key]
            donated_per_currency[currency] -= amount
    # Everything of an SKU returned (by its last line): exactly what was posted came back, beneficiary by beneficiary.
    full = {bucket for bucket in returned if returned[bucket] >= sold[bucket] and last[bucket] < 0}
    assert full
    for bucket in full:
        assert dict(reversed_[bucket]) == {k: v for k, v in posted[bucket].items() if v}
    for currency, net in donated_per_currency.items():
        donations = Account.objects.get(kind="donations", currency=currency, beneficiary=None)
        debit = sum(e.debit for e in donations.entries.all())
        credit = sum(e.credit for e in donations.entries.all())
        assert support.to_minor(debit - credit, currency) == net
    assert list(ledger_violations()) == []

    again = _import(partner, csv_bytes(rows))

    assert again.status == "nothing to do" and again.new_lines == [] and len(again.lines) == 500
    assert PartnerSaleLine.objects.count() == 500 and PartnerReport.objects.count() == 1


def test_reimporting_the_same_file_posts_nothing_and_says_so(partner, rules, skus):
    data = csv_bytes([row("L1", "P6-TEE", 2, "25.00", "USD"), row("L2", "P6-PIN", 1, "6.00", "USD")])
    assert _import(partner, data).status == "posted"
    before = ledger_counts()

    again = _import(partner, data)

    assert again.status == "nothing to do"
    assert [line.status for line in again.lines] == ["posted before", "posted before"]
    assert partner_service.summary(again)[-1] == "every line was posted before: nothing new to post"
    assert ledger_counts() == before


def test_a_line_changed_after_posting_is_refused_and_nothing_else_posts(partner, rules, skus):
    _import(partner, csv_bytes([row("L1", "P6-TEE", 2, "25.00", "USD")]))
    before = ledger_counts()
    changed = csv_bytes([row("L1", "P6-TEE", 2, "24.00", "USD"), row("L2", "P6-PIN", 1, "6.00", "USD")])

    result = _import(partner, changed)

    assert result.status == "refused" and not result.posted
    [refusal] = result.refused
    assert refusal.number == 2 and "line_id 'L1' was posted before with unit_price 25.0000 (now 24.00)" \
        in refusal.reason
    assert ledger_counts() == before
    # Staff may confirm the valid lines only: L2 posts, L1 stays as it was.
    confirmed = _import(partner, changed, valid_only=True)
    assert confirmed.status == "posted" and [r.line.line_id for r in confirmed.new_lines] == ["L2"]
    assert PartnerSaleLine.objects.get(line_id="L1").unit_price == D("25.00")
    assert list(ledger_violations()) == []


def test_a_sale_posts_the_online_rule_and_a_return_reverses_it_pro_rata_never_beyond(partner, rules, skus,
                                                                                      beneficiaries):
    alpha, beta, gamma = beneficiaries
    # 3 tees at 25.00, cost 10.00, fee 0.01: profit 44.99; 60 % (the rule since 30 days ago) = 26.994 -> 26.99,
    # split 2:1:1 = 13.495 / 6.7475 / 6.7475 -> 13.49, 6.75, 6.75 (remainders .495 .7475 .7475: 1 cent to beta,
    # 1 to gamma... largest remainder of 26.99: 13.495, 6.7475, 6.7475 -> floors 13, 6, 6 cents-wise).
    sale = _import(partner, csv_bytes([row("S1", "P6-TEE", 3, "25.00", "USD", fee="0.01")]))
    [line] = sale.new_lines
    assert (line.profit, line.donation) == (D("44.99"), D("26.99"))
    assert line.parts == {alpha.pk: D("13.49"), beta.pk: D("6.75"), gamma.pk: D("6.75")}

    first = _import(partner, csv_bytes([row("R1", "P6-TEE", -1, "25.00", "USD")]))
    # a third of 26.99 = 8.9966.. -> 9.00, split pro-rata to 13.49 / 6.75 / 6.75
    assert first.new_lines[0].donation == D("9.00")
    assert first.new_lines[0].parts == {alpha.pk: D("4.50"), beta.pk: D("2.25"), gamma.pk: D("2.25")}
    rest = _import(partner, csv_bytes([row("R2", "P6-TEE", -5, "25.00", "USD")]))
    assert rest.new_lines[0].donation == D("17.99")
    assert "capped at everything posted" in rest.new_lines[0].note
    assert rest.new_lines[0].parts == {alpha.pk: D("8.99"), beta.pk: D("4.50"), gamma.pk: D("4.50")}
    more = _import(partner, csv_bytes([row("R3", "P6-TEE", -1, "25.00", "USD")]))
    assert more.new_lines[0].donation == D("0.00") and more.new_lines[0].parts == {}
    for beneficiary in beneficiaries:
        payable = Account.objects.get(kind="payable", beneficiary=beneficiary, currency="USD")
        assert sum(e.credit - e.debit for e in payable.entries.all()) == 0
    assert list(ledger_violations()) == []


def test_a_return_in_another_currency_reverses_nothing_of_the_first(partner, rules, skus):
    _import(partner, csv_bytes([row("S1", "P6-TEE", 2, "25.00", "USD")]))

    result = _import(partner, csv_bytes([row("R1", "P6-TEE", -1, "3500", "JPY", store="Tokyo", country="JP")]))

    assert result.status == "posted" and result.new_lines[0].donation == D("0")
    assert "nothing to reverse" in result.new_lines[0].note
    assert list(ledger_violations()) == []


def test_the_jpy_catalogue_cost_is_snapshotted_for_a_jpy_line(partner, rules, skus):
    result = _import(partner, csv_bytes([row("J1", "P6-TEE", 2, "3500", "JPY", store="Tokyo", country="JP")]))

    line = PartnerSaleLine.objects.get(line_id="J1")
    assert (line.unit_cost, line.unit_cost_given, line.profit, line.donation) == (D("1400"), False, D("4200"),
                                                                                  D("2520"))
    assert result.new_lines[0].donation == D("2520")


BAD = [
    ("unknown SKU", {"sku": "NOPE-1"}, "unknown SKU 'NOPE-1'"),
    ("unknown currency", {"currency": "XYZ"}, "unknown currency 'XYZ'"),
    ("finer than the cent", {"unit_price": "12.345"}, "unit_price '12.345': Enter at most 2 decimal places for USD"),
    ("finer than the yen", {"currency": "JPY", "unit_price": "1200.5", "unit_cost": "100"},
     "Enter an amount in whole yen"),
    ("fee finer than the cent", {"fee": "0.001"}, "fee '0.001'"),
    ("future date", {"sold_on": str(dt.date.today() + dt.timedelta(days=2))}, "is in the future"),
    ("before the campaign", {"sold_on": "2013-01-01"}, "before the campaign started"),
    ("not a date", {"sold_on": "01/02/2026"}, "is not a date written YYYY-MM-DD"),
    ("non-numeric quantity", {"quantity": "two"}, "quantity 'two' is not a whole number"),
    ("decimal quantity", {"quantity": "1.5"}, "quantity '1.5' is not a whole number"),
    ("formula in store", {"store": '=HYPERLINK("http://evil","x")'}, "store '=HYPERLINK(\"http://e' starts like a"),
    ("formula in sku", {"sku": "@SUM(A1)"}, "sku '@SUM(A1)' starts like a spreadsheet formula"),
    ("formula in line_id", {"line_id": "+1+1"}, "line_id '+1+1' starts like a spreadsheet formula"),
    ("minus in line_id", {"line_id": "-2+3"}, "starts like a spreadsheet formula"),
    ("country", {"country": "XX"}, "country 'XX' is not an ISO 3166-1"),
    ("negative price", {"unit_price": "-1.00"}, "Enter an amount that is not negative"),
    ("no catalogue cost in EUR", {"currency": "EUR"}, "no unit cost for SKU P6-TEE in EUR in the catalogue"),
]


@pytest.mark.parametrize("change,reason", [(c, r) for _, c, r in BAD], ids=[name for name, _, _ in BAD])
def test_each_bad_line_is_refused_with_its_line_number_and_nothing_posts(partner, rules, skus, change, reason):
    good = row("G1", "P6-PIN", 1, "6.00", "USD")
    bad = {**row("B1", "P6-TEE", 1, "25.00", "USD"), **change}
    before = ledger_counts()

    result = _import(partner, csv_bytes([good, bad]))

    assert result.status == "refused" and not result.posted
    [refusal] = result.refused
    assert refusal.number == 3, refusal
    assert reason in refusal.reason
    assert [r.line.line_id for r in result.lines] == ["G1"]  # the valid line is previewed
    assert ledger_counts() == before


@pytest.mark.parametrize("data,reason", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not UTF-8"),
    ("line_id,sold_on\n1,2026-01-01\n".encode(), "missing column(s) store, country, sku"),
    ("línea;fecha\n".encode("latin-1"), "not UTF-8"),
    (b"\x00\x01binary", "NUL bytes"),
    (b"", "empty"),
    (csv_bytes([]), "no lines"),
    ('"unterminated,quote\n'.encode(), "not a CSV file"),
], ids=["png", "not-our-columns", "latin-1", "binary", "empty", "header-only", "broken-quote"])
def test_a_file_that_is_not_our_csv_is_refused_whole(partner, rules, skus, data, reason):
    before = ledger_counts()

    result = _import(partner, data)

    assert result.status == "refused" and result.lines == []
    assert reason in result.refused[0].reason
    assert ledger_counts() == before


def test_a_file_over_the_size_limit_is_refused_before_parsing(partner, rules, skus):
    with mock.patch("fundraising.partner_reports.csv.reader") as reader:
        result = _import(partner, b"x" * (MAX_BYTES + 1))
    reader.assert_not_called()
    assert result.status == "refused" and "over the 5242880 bytes limit" in result.refused[0].reason


def test_a_duplicated_line_id_within_a_file_is_refused(partner, rules, skus):
    result = _import(partner, csv_bytes([row("L1", "P6-PIN", 1, "6.00", "USD"), row("L1", "P6-PIN", 2, "6.00", "USD")]))

    assert [(r.number, r.reason) for r in result.refused] == [(3, "line_id 'L1' already used on line 2")]
    assert PartnerSaleLine.objects.count() == 0


def test_a_failure_midway_leaves_nothing_written(partner, rules, skus):
    data = csv_bytes([row(f"L{n}", "P6-PIN", 1, "6.00", "USD") for n in range(1, 6)])
    before = ledger_counts()
    real = partner_service._post_line
    calls = []

    def failing(**kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real(**kwargs)

    with mock.patch.object(partner_service, "_post_line", failing), pytest.raises(RuntimeError):
        _import(partner, data)

    assert ledger_counts() == before


def test_a_dry_run_previews_the_very_figures_then_posted(partner, rules, skus):
    data = csv_bytes([row("L1", "P6-TEE", 3, "25.00", "USD", fee="0.50"), row("L2", "P6-TEE", -1, "25.00", "USD")])
    before = ledger_counts()

    preview = _import(partner, data, dry_run=True)

    assert preview.status == "preview" and ledger_counts() == before
    posted = _import(partner, data)
    assert [(r.profit, r.donation, r.parts) for r in preview.lines] \
        == [(r.profit, r.donation, r.parts) for r in posted.lines]


def test_partner_lines_are_append_only(partner, rules, skus):
    _import(partner, csv_bytes([row("L1", "P6-PIN", 1, "6.00", "USD")]))
    line = PartnerSaleLine.objects.get()

    with pytest.raises(AppendOnlyError):
        PartnerSaleLine.objects.filter(pk=line.pk).update(quantity=5)
    with pytest.raises(AppendOnlyError):
        line.delete()
    from django.db import DatabaseError, connection, transaction
    for sql in ("UPDATE fundraising_partnersaleline SET quantity = 5",
                "UPDATE fundraising_partnersalelinepart SET amount = 0",
                "DELETE FROM fundraising_partnersalelinepart"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert list(ledger_violations()) == []


def test_verify_ledger_reports_a_partner_transaction_that_differs_from_its_split(partner, rules, skus):
    from fundraising.verification import _partner_line_matches

    _import(partner, csv_bytes([row("L1", "P6-TEE", 2, "25.00", "USD")]))
    line = PartnerSaleLine.objects.select_related("partner", "transaction", "rule").get()
    line.donation = D("99.00")

    problems = list(_partner_line_matches(line))

    assert any("parts sum to" in p for p in problems) and any("stored split says 99.00" in p for p in problems)


def test_the_staff_balances_count_partner_sales_as_earned_and_returns_as_reversed(partner, rules, skus,
                                                                                   beneficiaries):
    from fundraising import selectors

    _import(partner, csv_bytes([row("S1", "P6-TEE", 3, "25.00", "USD", fee="0.01"),
                                row("R1", "P6-TEE", -1, "25.00", "USD")]))

    alpha = next(r for r in selectors.beneficiary_balances(currency="USD") if r.beneficiary == beneficiaries[0])
    assert (alpha.earned, alpha.reversed, alpha.payable) == (D("13.49"), D("4.50"), D("8.99"))
    assert sum(selectors.donations_per_day(currency="USD", start=dt.date.today() - dt.timedelta(days=1)).values()) \
        == D("26.99")


def test_units_returned_beyond_the_sales_do_not_count_against_a_later_sale(partner, rules, skus):
    # 2 tees: profit 30.00, 60 % = 18.00; 3 returned: all 18.00 back (capped), the third unit counts for nothing.
    _import(partner, csv_bytes([row("S1", "P6-TEE", 2, "25.00", "USD"), row("R1", "P6-TEE", -3, "25.00", "USD")]))
    # 2 more sold (18.00), then 1 returned: 3 of 4 sold are back, 36.00 x 3/4 = 27.00, so this one reverses 9.00.
    result = _import(partner, csv_bytes([row("S2", "P6-TEE", 2, "25.00", "USD"),
                                         row("R2", "P6-TEE", -1, "25.00", "USD")]))

    assert [r.donation for r in result.new_lines] == [D("18.00"), D("9.00")]
    assert list(ledger_violations()) == []
