"""python manage.py import_partner_sales FILE --partner NAME [--dry-run] [--valid-only]; the shipped example."""

import io
import threading
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from fundraising.models import LedgerTransaction, PartnerSaleLine
from fundraising.partner_reports import MAX_BYTES
from fundraising.services.partners import import_partner_report
from fundraising.verification import ledger_violations
from tests import markers
from tests.fundraising.support import ledger_counts
from tests.partners.support import csv_bytes, generated_report, row

EXAMPLE = Path(__file__).resolve().parents[2] / "fundraising" / "seed" / "partner_sales_example.csv"


def _run(*args):
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        call_command("import_partner_sales", *args, stdout=out, stderr=err)
    except SystemExit as exit_:
        code = exit_.code
    return code, out.getvalue(), err.getvalue()


def test_the_command_posts_then_finds_nothing_new(partner, rules, skus, tmp_path):
    path = tmp_path / "week.csv"
    path.write_bytes(csv_bytes([row("L1", "P6-TEE", 2, "25.00", "USD"), row("L2", "P6-TEE", -1, "25.00", "USD")]))

    dry = _run(str(path), "--partner", "American Apparel", "--dry-run")
    assert dry[0] == 0 and "preview only: nothing posted" in dry[1] and PartnerSaleLine.objects.count() == 0

    code, out, _ = _run(str(path), "--partner", "american-apparel")
    assert code == 0
    assert out.splitlines() == [
        "American Apparel: 2 line(s): 2 new, 0 posted before, 0 refused",
        "  USD: 2 line(s), sold 50.00, returned 25.00, donation 18.00, reversed 9.00",
        "posted 2 line(s)",
    ]
    code, out, _ = _run(str(path), "--partner", "American Apparel")
    assert code == 0 and out.splitlines()[-1] == "every line was posted before: nothing new to post"
    assert LedgerTransaction.objects.filter(kind__in=LedgerTransaction.PARTNER_KINDS).count() == 2


def test_the_command_refuses_with_one_line_per_refused_line(partner, rules, skus, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_bytes([row("L1", "P6-TEE", 2, "25.00", "USD"), row("L2", "NOPE", 1, "1.00", "USD"),
                                row("L3", "P6-TEE", "x", "1.00", "USD")]))
    before = ledger_counts()

    code, out, err = _run(str(path), "--partner", "American Apparel")

    assert code == 1
    assert err.splitlines() == ["line 3: unknown SKU 'NOPE': no such product in the catalogue",
                                "line 4: quantity 'x' is not a whole number"]
    assert "  refused line 3: unknown SKU 'NOPE': no such product in the catalogue" in out.splitlines()
    assert ledger_counts() == before
    code, out, _ = _run(str(path), "--partner", "American Apparel", "--valid-only")
    assert code == 0 and out.splitlines()[-1] == "posted 1 line(s)"
    assert list(PartnerSaleLine.objects.values_list("line_id", flat=True)) == ["L1"]


def test_the_command_refuses_a_50_mb_file_before_reading_it(partner, rules, skus, tmp_path):
    path = tmp_path / "huge.csv"
    with open(path, "wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    before = ledger_counts()

    code, _, err = _run(str(path), "--partner", "American Apparel")

    assert code == 1 and err.strip() == f"file: the file is {50 * 1024 * 1024} bytes, over the {MAX_BYTES} bytes limit"
    assert ledger_counts() == before


def test_the_command_names_an_unknown_partner(db, tmp_path):
    with pytest.raises(CommandError, match="no partner named 'Nobody'"):
        call_command("import_partner_sales", str(tmp_path / "x.csv"), "--partner", "Nobody")


def test_the_shipped_example_imports_cleanly(partner, rules, p6_catalogue):
    code, out, err = _run(str(EXAMPLE), "--partner", "American Apparel")

    assert (code, err) == (0, ""), out
    assert out.splitlines()[-1].startswith("posted ")
    assert list(ledger_violations()) == []


@markers.postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_same_report_imported_twice_at_once_posts_each_line_once(partner, rules, skus):
    data = csv_bytes(generated_report(skus, count=60, seed=7))
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(import_partner_report(partner=partner, data=data, file_name="twice.csv"))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(result.status for result in results) == ["nothing to do", "posted"]
    assert PartnerSaleLine.objects.count() == 60
    assert LedgerTransaction.objects.filter(kind__in=LedgerTransaction.PARTNER_KINDS).count() == 60
    assert list(ledger_violations()) == []
