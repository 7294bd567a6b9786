"""The ledger's exports show partner sales with their report line (issue 19 item 5): ledger CSV, breakdown CSV,
beancount, and ``export_ledger``."""

import csv
import datetime as dt
import io
from decimal import Decimal as D

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from fundraising import exports, services
from fundraising.models import Entry, LedgerTransaction, PartnerSaleLine
from fundraising.partner_reports import read_report
from fundraising.services.partners import import_partner_report
from tests.fundraising import support as fsupport
from tests.partners.support import csv_bytes, row

EVIL_FILE = '=HYPERLINK("http://evil.example","x").csv'
TAIL = 13  # the breakdown's appended columns start here: source, partner, store, sold_on, report, report_file


def _csv(lines):
    return list(csv.reader(io.StringIO("".join(lines))))


def _run(*args):
    out = io.StringIO()
    call_command("export_ledger", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def sales(partner, rules, skus, beneficiaries):
    """An online sale, then a report (a USD sale and a return of one of its units, a JPY sale), then a moment
    (``since``), then a second report with a formula-like file name (one USD sale), and a payout."""
    alpha, beta, gamma = beneficiaries
    order = fsupport.place_order((fsupport.make_stockrecord("25.00", cost="10.00"), 2))
    fsupport.pay(order)
    day = timezone.localdate() - dt.timedelta(days=3)
    first = import_partner_report(partner=partner, file_name="aa-week-1.csv", data=csv_bytes([
        row("AA-1", "P6-TEE", 4, "25.00", "USD", sold_on=day, store="New York SoHo", country="US", unit_cost="10.00",
            fee="2.00"),
        row("AA-2", "P6-TEE", -1, "25.00", "USD", sold_on=day, store="Los Angeles", country="US", unit_cost="10.00"),
        row("AA-3", "P6-TEE", 2, "3500", "JPY", sold_on=day, store="Tokyo Harajuku", country="JP", unit_cost="1400",
            fee="100"),
    ]))
    assert first.status == "posted"
    since = timezone.now()
    second = import_partner_report(partner=partner, file_name=EVIL_FILE, data=csv_bytes([
        row("AA-4", "P6-PIN", 1, "6.00", "USD", sold_on=day, store="Berlin Mitte", country="DE"),
    ]))
    assert second.status == "posted"
    payout = services.record_disbursement(beneficiary=alpha, amount=D("1.00"), currency="USD", paid_on=day,
                                          reference="wire 1")
    lines = {line.line_id: line for line in PartnerSaleLine.objects.prefetch_related("parts__beneficiary")}
    return {"order": order, "first": first.report, "second": second.report, "since": since, "lines": lines,
            "payout": payout, "beneficiaries": beneficiaries}


def _parts(line, sign=1):
    return [(part.beneficiary.name, f"{sign * part.amount:.{2 if line.currency == 'USD' else 0}f}")
            for part in line.parts.order_by("beneficiary_id")]


def _expected_partner_rows(sales, line_ids=("AA-1", "AA-2", "AA-3", "AA-4"), beneficiary=None):
    """The exact breakdown rows of partner lines, from hand-computed figures checked against the stored ones."""
    first, second = sales["first"], sales["second"]
    figures = {
        # line id: quantity, revenue, unit cost, fee, profit, share, donation, report
        "AA-1": ("4", "100.00", "10.00", "2.00", "58.00", "6000", "34.80", first),
        "AA-2": ("-1", "-25.00", "10.00", "0.00", "0.00", "0", "-8.70", first),
        "AA-3": ("2", "7000", "1400", "100", "4100", "6000", "2460", first),
        "AA-4": ("1", "6.00", "1.25", "0.00", "4.75", "6000", "2.85", second),
    }
    rows = []
    for line_id in line_ids:
        line = sales["lines"][line_id]
        quantity, revenue, cost, fee, profit, share, donation, report = figures[line_id]
        sign = -1 if line.quantity < 0 else 1
        # the hand-computed figures are the stored ones (a return's amounts negated)
        assert (str(line.quantity), D(revenue), D(cost), D(fee), D(profit), int(share), D(donation)) == (
            quantity, sign * line.revenue, line.unit_cost, line.fee, line.profit, line.share_bps,
            sign * line.donation), line_id
        common = ["", line_id, line.sku, quantity, line.currency, revenue, cost, fee, profit, share, donation]
        tail = ["partner", "american-apparel", line.store, line.sold_on.isoformat(), str(report.pk),
                "'" + EVIL_FILE if report == second else "aa-week-1.csv"]
        for name, amount in _parts(line, sign):
            if beneficiary is None or name == beneficiary.name:
                rows.append(common + [name, amount] + tail)
    return rows


def test_the_stored_figures_are_the_hand_computed_ones(sales):
    lines = sales["lines"]
    assert _parts(lines["AA-1"]) == [("Alpha Group", "17.40"), ("Beta Group", "8.70"), ("Gamma Group", "8.70")]
    assert _parts(lines["AA-3"]) == [("Alpha Group", "1230"), ("Beta Group", "615"), ("Gamma Group", "615")]
    # a quarter of the USD tee's donation comes back, pro-rata to what each beneficiary got
    assert _parts(lines["AA-2"]) == [("Alpha Group", "4.35"), ("Beta Group", "2.18"), ("Gamma Group", "2.17")]
    assert lines["AA-2"].donation == D("8.70")


# --- ledger CSV -----------------------------------------------------------------------------------------


def test_the_ledger_csv_names_the_partner_store_and_report_line_of_each_entry(sales):
    rows = _csv(exports.ledger_csv())

    assert rows[0] == exports.CSV_COLUMNS == [
        "posted_at", "transaction_id", "kind", "idempotency_key", "order_number", "account", "beneficiary",
        "currency", "debit", "credit", "memo", "source", "partner", "store", "report_line"]
    lines, order = sales["lines"], sales["order"]
    count = {txn: Entry.objects.filter(transaction_id=txn).count() for txn in LedgerTransaction.objects.values_list(
        "id", flat=True)}
    sale = LedgerTransaction.objects.get(kind="sale", order=order).pk
    payout = sales["payout"].transaction
    expected = (
        [[str(sale), "sale", f"sale:{order.number}", order.number, "online", "", "", ""]] * count[sale]
        + [row_ for line_id, kind in (("AA-1", "partner_sale"), ("AA-2", "partner_return"), ("AA-3", "partner_sale"),
                                      ("AA-4", "partner_sale"))
           for row_ in [[str(lines[line_id].transaction_id), kind, f"partner:american-apparel:{line_id}", "",
                         "partner", "american-apparel", lines[line_id].store, line_id]]
           * count[lines[line_id].transaction_id]]
        + [[str(payout.pk), "disbursement", payout.idempotency_key, "", "", "", "", ""]] * 2
    )
    assert [[r[1], r[2], r[3], r[4], *r[11:]] for r in rows[1:]] == expected
    # every entry of the report's lines: the sale 4 (donations and three payables), the return 4, JPY 4, the pin 4
    assert [count[lines[i].transaction_id] for i in ("AA-1", "AA-2", "AA-3", "AA-4")] == [4, 4, 4, 4]


def test_the_ledger_csv_source_and_currency_filters(sales):
    partner_rows = _csv(exports.ledger_csv(source="partner"))[1:]
    online_rows = _csv(exports.ledger_csv(source="online"))[1:]
    everything = _csv(exports.ledger_csv())[1:]

    assert {r[11] for r in partner_rows} == {"partner"} and len(partner_rows) == 16
    assert {r[11] for r in online_rows} == {"online"} and len(online_rows) == 4
    assert len(everything) == 16 + 4 + 2
    assert [r[14] for r in _csv(exports.ledger_csv(currency="JPY"))[1:]] == ["AA-3"] * 4
    assert [r[14] for r in _csv(exports.ledger_csv(since=sales["since"], source="partner"))[1:]] == ["AA-4"] * 4
    with pytest.raises(ValueError, match="source must be one of online, partner"):
        exports.ledger_csv(source="shop")


def test_the_ledger_csv_is_one_query(sales, django_assert_num_queries):
    with django_assert_num_queries(1):
        rows = _csv(exports.ledger_csv())
    assert len(rows) == 1 + 22


# --- breakdown CSV -------------------------------------------------------------------------------------


def test_the_breakdown_csv_has_the_partner_lines_after_the_order_lines(sales, django_assert_num_queries):
    with django_assert_num_queries(4):  # per kind: the lines, and their parts (one query per chunk each)
        rows = _csv(exports.breakdown_csv())

    assert rows[0] == exports.BREAKDOWN_COLUMNS == [
        "order_number", "line_id", "sku", "quantity", "currency", "revenue_excl_tax", "unit_cost", "fee_share",
        "profit", "share_bps", "donation", "beneficiary", "beneficiary_amount", "source", "partner", "store",
        "sold_on", "report", "report_file"]
    order = sales["order"]
    online = [r for r in rows[1:] if r[TAIL] == "online"]
    assert online == rows[1:4]
    assert [(r[0], r[TAIL:]) for r in online] == [
        (order.number, ["online", "", "", order.date_placed.astimezone(dt.timezone.utc).date().isoformat(), "", ""])
    ] * 3
    assert rows[4:] == _expected_partner_rows(sales)
    # a return's donation and parts are what it reversed, negative; they net against the sale's
    aa1 = [D(r[12]) for r in rows[4:] if r[1] == "AA-1"]
    aa2 = [D(r[12]) for r in rows[4:] if r[1] == "AA-2"]
    assert [a + b for a, b in zip(aa1, aa2, strict=True)] == [D("13.05"), D("6.52"), D("6.53")]


def test_the_breakdown_csv_filters(sales):
    alpha, beta, _ = sales["beneficiaries"]
    lines, order = sales["lines"], sales["order"]

    by_beta = _csv(exports.breakdown_csv(beneficiary=beta))[1:]
    assert [r[11] for r in by_beta] == ["Beta Group"] * 5
    assert by_beta[1:] == _expected_partner_rows(sales, beneficiary=beta)

    assert _csv(exports.breakdown_csv(currency="JPY"))[1:] == _expected_partner_rows(sales, ["AA-3"])
    assert _csv(exports.breakdown_csv(since=sales["since"]))[1:] == _expected_partner_rows(sales, ["AA-4"])

    # partner_lines alone: those lines, no order line; orders alone: no partner line; both: both
    wanted = PartnerSaleLine.objects.filter(line_id__in=["AA-2", "AA-4"]).values("id")
    assert _csv(exports.breakdown_csv(partner_lines=wanted))[1:] == _expected_partner_rows(sales, ["AA-2", "AA-4"])
    assert {r[TAIL] for r in _csv(exports.breakdown_csv(orders=[order.pk]))[1:]} == {"online"}
    both = _csv(exports.breakdown_csv(orders=[order.pk], partner_lines=[lines["AA-3"].pk], beneficiary=alpha))[1:]
    assert [(r[0], r[1], r[11], r[12]) for r in both] == [
        (order.number, str(order.lines.get().pk), "Alpha Group", both[0][12]), ("", "AA-3", "Alpha Group", "1230")]
    assert _csv(exports.breakdown_csv(orders=[], partner_lines=[])) == [exports.BREAKDOWN_COLUMNS]
    assert _csv(exports.breakdown_csv(source="partner"))[1:] == _expected_partner_rows(sales)
    assert {r[TAIL] for r in _csv(exports.breakdown_csv(source="online"))[1:]} == {"online"}


def test_text_from_partners_files_cannot_run_as_a_formula(sales):
    # the report's file name (anything staff upload) gets the apostrophe in the breakdown
    rows = _csv(exports.breakdown_csv(partner_lines=[sales["lines"]["AA-4"].pk]))
    assert {r[-1] for r in rows[1:]} == {"'" + EVIL_FILE}
    # a formula-like store never gets that far: the reader refuses the line
    refused = read_report(csv_bytes([row("AA-9", "P6-TEE", 1, "25.00", "USD", store='=HYPERLINK("x")')]))
    assert refused.lines == [] and "store" in refused.refused[0].reason
    # and safe_cell would escape one anyway
    assert exports.safe_cell('=HYPERLINK("x")') == "'=HYPERLINK(\"x\")"
    # the only cells starting with "-" are a return's numbers, which a spreadsheet reads as numbers
    for r in _csv(exports.breakdown_csv())[1:] + _csv(exports.ledger_csv())[1:]:
        for cell in r:
            if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                assert cell[0] == "-" and r[1] == "AA-2" and D(cell) < 0, (cell, r)


# --- beancount and the command -------------------------------------------------------------------------


def test_the_beancount_file_has_the_partner_metadata_and_passes_bean_check(sales):
    loader = pytest.importorskip("beancount.loader", reason="beancount not installed: pip install beancount")
    text = _run("--format", "beancount")

    entries, errors, _ = loader.load_string(text)
    assert errors == []
    transactions = [e for e in entries if type(e).__name__ == "Transaction"]
    assert [t.meta["kind"] for t in transactions] == [
        "sale", "partner_sale", "partner_return", "partner_sale", "partner_sale", "disbursement"]
    assert [(t.meta.get("order"), t.meta.get("partner"), t.meta.get("store"), t.meta.get("report-line"))
            for t in transactions] == [
        (sales["order"].number, None, None, None),
        (None, "american-apparel", "New York SoHo", "AA-1"),
        (None, "american-apparel", "Los Angeles", "AA-2"),
        (None, "american-apparel", "Tokyo Harajuku", "AA-3"),
        (None, "american-apparel", "Berlin Mitte", "AA-4"),
        (None, None, None, None),
    ]
    returned = transactions[2]
    assert {p.account: p.units.number for p in returned.postings} == {
        "Expenses:Donations": D("-8.70"), "Liabilities:Payable:Alpha-Group": D("4.35"),
        "Liabilities:Payable:Beta-Group": D("2.18"), "Liabilities:Payable:Gamma-Group": D("2.17"),
    }
    jpy = transactions[3]
    assert {p.account: (p.units.number, p.units.currency) for p in jpy.postings} == {
        "Expenses:Donations": (D("2460"), "JPY"), "Liabilities:Payable:Alpha-Group": (D("-1230"), "JPY"),
        "Liabilities:Payable:Beta-Group": (D("-615"), "JPY"), "Liabilities:Payable:Gamma-Group": (D("-615"), "JPY"),
    }
    # with --since, the earlier balances are carried forward and the file still balances
    since = (dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1)).isoformat()
    entries, errors, _ = loader.load_string(_run("--format", "beancount", "--since", since))
    assert errors == []


def test_export_ledger_includes_partner_lines_and_keeps_one_source(sales):
    rows = _csv(_run("--format", "breakdown-csv", "--source", "partner", "--currency", "USD"))
    assert rows[1:] == _expected_partner_rows(sales, ["AA-1", "AA-2", "AA-4"])
    rows = _csv(_run("--format", "csv", "--source", "online"))
    assert {r[11] for r in rows[1:]} == {"online"} and len(rows) == 5
    assert len(_csv(_run("--format", "csv"))) == 1 + 22
    with pytest.raises(CommandError, match="invalid choice"):
        _run("--format", "csv", "--source", "shop")
    with pytest.raises(CommandError, match="--source applies to csv and breakdown-csv"):
        _run("--format", "beancount", "--source", "partner")
