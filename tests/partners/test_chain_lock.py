"""A partner import locks the public chain's end only to seal its lines just before it commits (and a preview
never), so an online sale that seals its own transaction meanwhile is not held up by the import."""

import threading

import pytest
from django.db import connection

from fundraising import chain
from fundraising.models import ChainLink, LedgerTransaction, PartnerSaleLine
from fundraising.services import partners
from fundraising.verification import ledger_violations
from tests import markers
from tests.fundraising.support import make_stockrecord, pay, place_order
from tests.partners.support import csv_bytes, generated_report


@markers.postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("dry_run", [False, True], ids=["import", "preview"])
def test_an_online_sale_commits_while_a_partner_report_is_being_posted(partner, rules, skus, monkeypatch, dry_run):
    order = place_order((make_stockrecord("30.00", "12.00"), 1))
    data = csv_bytes(generated_report(skus, count=40, seed=3))
    posting, sale_done = threading.Event(), threading.Event()
    results, errors = [], []
    real = partners._post_line

    def post_line_then_wait(**kwargs):
        result = real(**kwargs)
        if not posting.is_set():  # the first line is posted, the import's transaction is open
            posting.set()
            sale_done.wait(timeout=30)
        return result

    monkeypatch.setattr(partners, "_post_line", post_line_then_wait)

    def run():
        try:
            results.append(partners.import_partner_report(partner=partner, data=data, file_name="week.csv",
                                                          dry_run=dry_run))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert posting.wait(timeout=30)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '5s'")  # a sale blocked by the import fails here instead of hanging
        try:
            sale = pay(order)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
    finally:
        sale_done.set()
        thread.join(timeout=60)

    assert errors == []
    [result] = results
    assert sale.chain_link.seq == 1
    if dry_run:
        assert result.status == "preview" and len(result.new_lines) == 40
        assert PartnerSaleLine.objects.count() == 0
        assert ChainLink.objects.count() == 1
    else:
        assert result.status == "posted"
        assert PartnerSaleLine.objects.count() == 40
        partner_links = ChainLink.objects.filter(transaction__kind__in=LedgerTransaction.PARTNER_KINDS)
        # Sealed after the sale, in posting order, with no gap.
        assert list(partner_links.order_by("seq").values_list("transaction_id", flat=True)) == list(
            LedgerTransaction.objects.filter(kind__in=LedgerTransaction.PARTNER_KINDS).order_by("id")
            .values_list("id", flat=True))
        assert sorted(partner_links.values_list("seq", flat=True)) == list(range(2, 42))
    assert list(chain.verify_chain()) == []
    assert list(ledger_violations()) == []
