"""verify_ledger, export_ledger and load_p6_fundraising."""

import csv
import datetime as dt
import io
import os
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from oscar.core.loading import get_model

from fundraising import services
from fundraising.models import Account, Beneficiary, Partner, ShareRule
from fundraising.selectors import rule_in_force
from tests.fundraising import support

Order = get_model("order", "Order")
ROOT = Path(__file__).resolve().parents[2]


def _run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _csv(text):
    return list(csv.reader(io.StringIO(text)))


# --- verify_ledger ----------------------------------------------------------------------------------


def test_verify_ledger_is_clean_after_sales_refunds_and_payouts(paid_order, beneficiaries):
    services.post_reversal(order=paid_order, key="refund:re_1", kind="refund", amount=D("31.00"))
    services.record_disbursement(beneficiary=beneficiaries[0], amount=D("2.99"), currency="USD",
                                 paid_on=dt.date(2024, 1, 1), reference="w1")
    services.take_balance_checkpoint()

    out, _ = _run("verify_ledger")

    assert out == "ledger OK: 3 transactions, 10 entries\n"


def test_verify_ledger_exits_non_zero_with_one_line_per_violation(order, shirt):
    # given two orders marked paid whose sale was never posted
    other = support.place_order((shirt, 1))
    Order.objects.filter(pk__in=[order.pk, other.pk]).update(status="Paid")

    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_ledger", stdout=out, stderr=io.StringIO())

    assert exit_info.value.code == 1
    assert out.getvalue().splitlines() == [
        f"sale: paid order {order.number} (status 'Paid') has no sale transaction",
        f"sale: paid order {other.number} (status 'Paid') has no sale transaction",
        f"status: order {order.number} is 'Paid' but no payment was booked for it",
        f"status: order {other.number} is 'Paid' but no payment was booked for it",
    ]


def test_verify_ledger_reports_an_unpaid_status_with_a_booked_payment(order, shirt):
    # given an order whose payment was booked and whose status a shortcut set back to pending
    support.pay(order)
    Order.objects.filter(pk=order.pk).update(status="Pending payment")

    out = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("verify_ledger", stdout=out, stderr=io.StringIO())

    assert f"status: order {order.number} is 'Pending payment' but a payment was booked for it" in \
        out.getvalue().splitlines()


# --- export_ledger ----------------------------------------------------------------------------------


def test_export_csv_has_the_exact_columns_and_one_row_per_entry(paid_order):
    out, _ = _run("export_ledger", "--format", "csv")

    rows = _csv(out)
    assert rows[0] == ["posted_at", "transaction_id", "kind", "idempotency_key", "order_number", "account",
                       "beneficiary", "currency", "debit", "credit", "memo", "source", "partner", "store",
                       "report_line"]
    assert len(rows) == 5
    assert [row[11:] for row in rows[1:]] == [["online", "", "", ""]] * 4
    sale = ["sale", f"sale:{paid_order.number}", paid_order.number]
    assert [row[2:10] for row in rows[1:]] == [
        sale + ["campaign:donations", "", "USD", "17.96", "0.00"],
        sale + ["payable:alpha-group", "Alpha Group", "USD", "0.00", "5.99"],
        sale + ["payable:beta-group", "Beta Group", "USD", "0.00", "5.99"],
        sale + ["payable:gamma-group", "Gamma Group", "USD", "0.00", "5.98"],
    ]


def test_export_csv_neutralises_formulas_in_text_but_not_in_amounts(paid_order, beneficiaries):
    alpha, beta, _ = beneficiaries
    payable = {a.beneficiary_id: a for a in Account.objects.filter(kind="payable")}
    services.post_adjustment(
        entries=[(payable[alpha.pk], D("1.00"), D("0")), (payable[beta.pk], D("0"), D("1.00"))],
        reason='=HYPERLINK("http://evil.example","click")', currency="USD",
    )

    rows = _csv(_run("export_ledger", "--format", "csv")[0])

    adjustment = [row for row in rows if row[2] == "adjustment"]
    assert [row[10] for row in adjustment] == ["'=HYPERLINK(\"http://evil.example\",\"click\")"] * 2
    assert [(row[8], row[9]) for row in adjustment] == [("1.00", "0.00"), ("0.00", "1.00")]


def test_export_csv_filters_by_currency_and_date(paid_order):
    assert len(_csv(_run("export_ledger", "--format", "csv", "--currency", "eur")[0])) == 1
    tomorrow = (dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1)).isoformat()
    assert len(_csv(_run("export_ledger", "--format", "csv", "--since", tomorrow)[0])) == 1
    assert len(_csv(_run("export_ledger", "--format", "csv", "--since", "2000-01-01", "--currency", "USD")[0])) == 5


def test_export_breakdown_csv_has_one_row_per_line_and_beneficiary(paid_order, shirt):
    unpaid = support.place_order((shirt, 1))

    rows = _csv(_run("export_ledger", "--format", "breakdown-csv")[0])

    assert rows[0] == ["order_number", "line_id", "sku", "quantity", "currency", "revenue_excl_tax", "unit_cost",
                       "fee_share", "profit", "share_bps", "donation", "beneficiary", "beneficiary_amount",
                       "source", "partner", "store", "sold_on", "report", "report_file"]
    def online(order):
        return ["online", "", "", order.date_placed.astimezone(dt.timezone.utc).date().isoformat(), "", ""]

    assert [row[13:] for row in rows[1:]] == [online(paid_order)] * 6 + [online(unpaid)]
    shirts, pin = paid_order.lines.order_by("pk")
    rows = [row[:13] for row in rows]
    assert rows[1:7] == [
        [paid_order.number, str(shirts.pk), shirts.partner_sku, "2", "USD", "50.00", "10.00", "1.69", "28.31", "5000",
         "14.16", "Alpha Group", "4.72"],
        [paid_order.number, str(shirts.pk), shirts.partner_sku, "2", "USD", "50.00", "10.00", "1.69", "28.31", "5000",
         "14.16", "Beta Group", "4.72"],
        [paid_order.number, str(shirts.pk), shirts.partner_sku, "2", "USD", "50.00", "10.00", "1.69", "28.31", "5000",
         "14.16", "Gamma Group", "4.72"],
        [paid_order.number, str(pin.pk), pin.partner_sku, "1", "USD", "12.00", "4.00", "0.41", "7.59", "5000",
         "3.80", "Alpha Group", "1.27"],
        [paid_order.number, str(pin.pk), pin.partner_sku, "1", "USD", "12.00", "4.00", "0.41", "7.59", "5000",
         "3.80", "Beta Group", "1.27"],
        [paid_order.number, str(pin.pk), pin.partner_sku, "1", "USD", "12.00", "4.00", "0.41", "7.59", "5000",
         "3.80", "Gamma Group", "1.26"],
    ]
    # an order not paid yet: its snapshot, no capture figures, no parts
    line = unpaid.lines.get()
    assert rows[7:] == [[unpaid.number, str(line.pk), line.partner_sku, "1", "USD", "25.00", "10.00", "", "", "5000",
                         "", "", ""]]


def test_export_beancount_passes_bean_check(paid_order, beneficiaries):
    loader = pytest.importorskip("beancount.loader", reason="beancount not installed: pip install beancount")
    services.post_reversal(order=paid_order, key="refund:re_1", kind="refund", amount=D("31.00"))
    services.record_disbursement(beneficiary=beneficiaries[0], amount=D("1.00"), currency="USD",
                                 paid_on=dt.date(2024, 1, 1), reference='wire "1"')
    loss = support.place_order((support.make_stockrecord("5.00", cost="9.00"), 1))
    support.pay(loss, fee=D("0.45"))  # a sale without entries: an empty beancount transaction

    text = _run("export_ledger", "--format", "beancount")[0]

    entries, errors, _ = loader.load_string(text)
    assert errors == []
    transactions = [e for e in entries if type(e).__name__ == "Transaction"]
    assert [t.meta["kind"] for t in transactions] == ["sale", "refund", "disbursement", "sale"]
    opened = sorted(e.account for e in entries if type(e).__name__ == "Open")
    assert opened == [
        "Assets:Disbursed:Alpha-Group", "Expenses:Donations", "Liabilities:Payable:Alpha-Group",
        "Liabilities:Payable:Beta-Group", "Liabilities:Payable:Gamma-Group",
    ]
    first = transactions[0]
    assert {p.account: p.units.number for p in first.postings} == {
        "Expenses:Donations": D("17.96"), "Liabilities:Payable:Alpha-Group": D("-5.99"),
        "Liabilities:Payable:Beta-Group": D("-5.99"), "Liabilities:Payable:Gamma-Group": D("-5.98"),
    }


def test_export_beancount_since_carries_balances_forward(paid_order):
    loader = pytest.importorskip("beancount.loader", reason="beancount not installed: pip install beancount")
    tomorrow = (dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1)).isoformat()

    text = _run("export_ledger", "--format", "beancount", "--since", tomorrow)[0]

    entries, errors, _ = loader.load_string(text)
    assert errors == []
    (opening,) = [e for e in entries if type(e).__name__ == "Transaction"]
    assert opening.date.isoformat() == tomorrow
    assert sum(p.units.number for p in opening.postings) == 0 and len(opening.postings) == 4


@pytest.mark.parametrize(
    "args, message",
    [
        (["--format", "xml"], "invalid choice"),
        ([], "the following arguments are required: --format"),
        (["--format", "csv", "--currency", "dollars"], "--currency must be an ISO 4217 code"),
        (["--format", "csv", "--since", "2024-02-30"], "--since must be a date as YYYY-MM-DD"),
    ],
)
def test_export_refuses_bad_arguments(db, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("export_ledger", *args, stdout=io.StringIO())


@pytest.mark.parametrize("args", [["--format", "xml"], ["--format", "csv", "--since", "yesterday"]])
def test_export_bad_arguments_on_the_command_line_exit_non_zero_with_one_line(args):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "shop.settings_test"}
    result = subprocess.run([sys.executable, "manage.py", "export_ledger", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


# --- load_p6_fundraising ----------------------------------------------------------------------------


def test_load_p6_fundraising_is_idempotent(db):
    out, _ = _run("load_p6_fundraising")
    # The partner is seeded by migration 0011 too, so it is created here only after a flush (test order).
    assert [line for line in out.splitlines() if line != "created sales partner American Apparel"] == [
        "created beneficiary Russian LGBT Network",
        "created beneficiary Coming Out St. Petersburg",
        "created beneficiary Sphere Foundation",
        "created share rule 50 % split among Russian LGBT Network, Coming Out St. Petersburg, Sphere Foundation",
    ]
    rule = rule_in_force()
    assert rule.share_bps == 5000
    assert sorted((a.beneficiary.slug, a.weight) for a in rule.allocations.all()) == [
        ("coming-out-st-petersburg", 1), ("russian-lgbt-network", 1), ("sphere-foundation", 1)
    ]
    assert set(Beneficiary.objects.values_list("country", flat=True)) == {"RU"}

    again, _ = _run("load_p6_fundraising")

    assert again == "P6 fundraising already loaded: nothing to do.\n"
    assert (Beneficiary.objects.count(), ShareRule.objects.count()) == (3, 1)
    assert list(Partner.objects.values_list("slug", "name")) == [("american-apparel", "American Apparel")]


# --- checkpoint_ledger ------------------------------------------------------------------------------


def test_checkpoint_ledger_takes_a_checkpoint_only_when_there_is_something_new(db, paid_order):
    assert _run("checkpoint_ledger")[0] == "checkpoint taken up to entry %d\n" % _last_entry_id()
    assert _run("checkpoint_ledger")[0] == "checkpoint up to entry %d is current: nothing to do\n" % _last_entry_id()


def test_checkpoint_ledger_on_an_empty_ledger(db):
    assert _run("checkpoint_ledger")[0] == "ledger is empty: nothing to do\n"


def _last_entry_id():
    from fundraising.models import Entry

    return Entry.objects.order_by("-id").values_list("id", flat=True).first()
