"""The dashboard's upload -> preview -> confirm of a partner's sales report (issue 19)."""

import re

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from fundraising.models import PartnerSaleLine
from fundraising.partner_reports import MAX_BYTES
from fundraising.verification import ledger_violations
from tests.fundraising.dashboard_support import money
from tests.fundraising.support import ledger_counts
from tests.partners.support import csv_bytes, generated_report, row

URL = reverse("fundraising-dashboard:partner-import")


def _upload(client, partner, data, name="week.csv"):
    return client.post(URL, {"partner": partner.pk, "report": SimpleUploadedFile(name, data, "text/csv")})


def _figure(html, line_id, name):
    found = re.search(rf'data-line-id="{re.escape(line_id)}"(.*?)</tr>', html, re.S).group(1)
    return re.search(rf'data-figure="{name}">(.*?)</td>', found, re.S).group(1).strip()


def _confirm(client, html, **extra):
    fields = dict(re.findall(r'<input type="hidden" name="(partner|sha256|file_name)" value="([^"]*)"', html))
    return client.post(URL, {"step": "confirm", **fields, **extra})


def test_the_preview_shows_the_figures_that_confirmation_posts(staff_client, partner, rules, skus):
    rows = generated_report(skus, count=40, seed=3)
    before = ledger_counts()

    preview = _upload(staff_client, partner, csv_bytes(rows))

    assert preview.status_code == 200 and ledger_counts() == before
    html = preview.content.decode()
    shown = {r["line_id"]: (_figure(html, r["line_id"], "profit"), _figure(html, r["line_id"], "donation"))
             for r in rows}
    posted = _confirm(staff_client, html)
    assert posted.status_code == 200 and "Posted 40 line(s) of the report." in posted.content.decode()
    for line in PartnerSaleLine.objects.all():
        assert shown[line.line_id] == (money(line.profit, line.currency), money(line.donation, line.currency))
    assert list(ledger_violations()) == []
    again = _confirm(staff_client, html)
    assert PartnerSaleLine.objects.count() == 40
    assert "upload it again" in again.content.decode()  # the confirmed upload is no longer held


def test_refused_lines_are_shown_and_post_nothing_unless_the_valid_lines_only_are_confirmed(
        staff_client, partner, rules, skus):
    data = csv_bytes([row("L1", "P6-TEE", 2, "25.00", "USD"), row("L2", "NOPE", 1, "1.00", "USD")])
    before = ledger_counts()

    preview = _upload(staff_client, partner, data)

    html = preview.content.decode()
    assert re.search(r'data-line="3"><td>3</td><td>L2</td><td>unknown SKU &#x27;NOPE&#x27;', html)
    refused = _confirm(staff_client, html)
    assert "Nothing posted" in refused.content.decode() and ledger_counts() == before
    _confirm(staff_client, html, valid_only="on")
    assert list(PartnerSaleLine.objects.values_list("line_id", flat=True)) == ["L1"]


def test_an_upload_over_the_limit_is_refused_on_its_size(staff_client, partner, rules, skus):
    before = ledger_counts()

    response = _upload(staff_client, partner, b"x" * (MAX_BYTES + 1))

    assert response.status_code == 200
    assert f"The file is {MAX_BYTES + 1} bytes, over the {MAX_BYTES} bytes limit." in response.content.decode()
    assert ledger_counts() == before


def test_a_report_over_the_dashboards_line_limit_is_refused_and_sent_to_the_command(staff_client, partner, rules,
                                                                                      skus, monkeypatch):
    from fundraising.dashboard import partner_sales

    monkeypatch.setattr(partner_sales, "MAX_DASHBOARD_LINES", 3)
    before = ledger_counts()
    rows = [row(f"L{n}", "P6-TEE", 1, "25.00", "USD") for n in range(1, 5)]

    response = _upload(staff_client, partner, csv_bytes(rows))

    html = response.content.decode()
    assert response.status_code == 200
    assert "The report has 4 lines; the dashboard takes up to 3 per file." in html
    assert "python manage.py import_partner_sales FILE --partner NAME" in html
    assert ledger_counts() == before
    ok = _upload(staff_client, partner, csv_bytes(rows[:3]))
    assert ok.status_code == 200 and 'data-line-id="L3"' in ok.content.decode()
