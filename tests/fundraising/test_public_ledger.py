"""The public ledger (issue 17, items 1 to 4): each ledger transaction's public content sealed in a hash chain
in posting order, published as a page and a keyset-paginated feed with hourly heads, verifiable by anyone with
scripts/verify_public_ledger; receipts that find a fan's own entries; tampering seen by verify_ledger."""

import copy
import importlib.machinery
import importlib.util
import json
import subprocess
import sys
from decimal import Decimal as D
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from oscar.core.loading import get_model

from fundraising import chain, services
from fundraising.models import GENESIS, Beneficiary, ChainHead, ChainLink, LedgerTransaction
from fundraising.verification import ledger_violations
from tests.fundraising.dashboard_support import load_sales

Order = get_model("order", "Order")

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "verify_public_ledger"


def load_script():
    loader = importlib.machinery.SourceFileLoader("verify_public_ledger", str(SCRIPT))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


@pytest.fixture
def sales(p6_catalogue):
    load_sales(6, refund_rate=0.5, seed=11)
    services.record_disbursement(beneficiary=Beneficiary.objects.get(slug="sphere-foundation"), amount=D("3.00"),
                                 currency="USD", paid_on=timezone.now().date(), reference="wire-secret-42")


def feed(client, after=0, limit=100):
    response = client.get(reverse("fundraising:ledger-json"), {"after": after, "limit": limit})
    assert response.status_code == 200
    return response.json()


@pytest.mark.django_db
def test_every_transaction_is_sealed_in_posting_order_and_the_chain_recomputes(client, sales):
    txns = list(LedgerTransaction.objects.order_by("id"))
    links = list(ChainLink.objects.order_by("seq"))
    assert [link.seq for link in links] == list(range(1, len(txns) + 1))
    assert [link.transaction_id for link in links] == [t.pk for t in txns]  # one process: commit order is id order
    prev = GENESIS
    for link in links:
        assert link.prev_hash == prev
        assert link.hash == chain.link_hash(prev, link.payload)
        prev = link.hash
    assert chain.current_head() == (len(txns), prev)
    assert list(ledger_violations()) == []


@pytest.mark.django_db
def test_the_feed_publishes_public_content_only(client, sales):
    data = feed(client)
    assert data["schema"] == "p6-public-ledger/1" and data["next"] is None
    kinds = [t["kind"] for t in data["transactions"]]
    assert kinds.count("sale") == 6 and kinds.count("refund") == 3 and kinds.count("disbursement") == 1
    body = json.dumps(data)
    for order in Order.objects.all():
        assert order.number not in body and order.email not in body
    for secret in ("wire-secret-42", "Sphere Foundation", "Russian LGBT Network", "sphere-foundation", "@"):
        assert secret not in body
    sale = next(t for t in data["transactions"] if t["kind"] == "sale")
    assert set(sale) == {"seq", "date", "kind", "currency", "amounts", "receipt", "prev_hash", "hash"}
    assert [label for label, _ in sale["amounts"]] == ["Group A", "Group B", "Group C"]
    payout = next(t for t in data["transactions"] if t["kind"] == "disbursement")
    # a payout is dated by its month only, and says nothing but its amount
    assert payout["date"] == timezone.now().strftime("%Y-%m") and payout["receipt"] is None
    assert payout["amounts"] == [["Group C", "-3.00"]]


@pytest.mark.django_db
def test_the_feed_is_keyset_paginated_and_refuses_bad_parameters(client, sales):
    total = ChainLink.objects.count()
    seen, after = [], 0
    while True:
        page = feed(client, after=after, limit=4)
        seen += [t["seq"] for t in page["transactions"]]
        if not page["next"]:
            break
        assert page["next"] == f"{reverse('fundraising:ledger-json')}?after={seen[-1]}&limit=4"
        after = seen[-1]
    assert seen == list(range(1, total + 1))
    for params in ({"after": "x"}, {"limit": "0"}, {"limit": "501"}, {"after": "-1"}):
        response = client.get(reverse("fundraising:ledger-json"), params)
        assert response.status_code == 400 and "error" in response.json()


@pytest.mark.django_db
def test_heads_are_recorded_and_published(client, sales):
    assert client.get(reverse("fundraising:ledger-head")).json()["seq"] == 0
    out = StringIO()
    call_command("record_ledger_head", stdout=out)
    head = ChainHead.objects.get()
    assert out.getvalue().startswith(f"head recorded: sequence {head.seq}, hash {head.hash}")
    body = client.get(reverse("fundraising:ledger-head")).json()
    assert (body["seq"], body["hash"]) == (ChainLink.objects.count(), ChainLink.objects.order_by("-seq")[0].hash)
    totals = client.get(reverse("fundraising:totals-json")).json()
    assert totals["ledger"] == {"seq": body["seq"], "hash": body["hash"]}


@pytest.mark.django_db
def test_a_receipt_finds_exactly_its_orders_entries_and_a_guessed_one_nothing(client, sales):
    refunded = Order.objects.filter(ledger_transactions__kind="refund").distinct().first()
    code = chain.receipt_code(refunded.number)
    assert len(code) == 19 and code.count("-") == 3 and refunded.number not in code
    html = client.get(reverse("fundraising:ledger"), {"receipt": code.lower()}).content.decode()
    expected = sorted(ChainLink.objects.filter(transaction__order=refunded).values_list("seq", flat=True))
    shown = sorted(int(seq) for seq in __import__("re").findall(r'<tr data-seq="(\d+)">', html))
    assert shown == expected and len(expected) == 2  # its sale and its refund
    guessed = client.get(reverse("fundraising:ledger"), {"receipt": "AAAA-BBBB-CCCC-DDDD"}).content.decode()
    assert "data-seq=" not in guessed and "No entry carries this receipt code." in guessed


@pytest.mark.django_db
def test_the_fan_reads_the_receipt_on_the_account_order_page(client, sales, django_user_model):
    order = Order.objects.filter(ledger_transactions__kind="sale").first()
    user = django_user_model.objects.create_user(username="fan", email="fan@example.org", password="pw-123456789")
    Order.objects.filter(pk=order.pk).update(user=user)
    client.force_login(user)
    html = client.get(reverse("customer:order", kwargs={"order_number": order.number})).content.decode()
    code = chain.receipt_code(order.number)
    assert f"<code>{code}</code>" in html
    assert f'{reverse("fundraising:ledger")}?receipt={code}' in html


@pytest.mark.django_db
def test_verify_ledger_reports_a_rewritten_link_and_a_head_the_chain_does_not_pass(sales):
    call_command("record_ledger_head", stdout=StringIO())
    link = ChainLink.objects.get(seq=2)
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("DROP TRIGGER fundraising_chainlink_no_update")
        else:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending deferred checks before ALTER TABLE
            cursor.execute("ALTER TABLE fundraising_chainlink DISABLE TRIGGER fundraising_chainlink_append_only")
        payload = json.loads(link.payload)
        payload["amounts"][0][1] = "0.01"
        text = chain.canonical(payload)
        cursor.execute("UPDATE fundraising_chainlink SET payload = %s, hash = %s WHERE id = %s",
                       [text, chain.link_hash(link.prev_hash, text), link.pk])
    problems = list(ledger_violations())
    assert any("trigger fundraising_chainlink" in p for p in problems)
    assert "public chain: link 3 does not follow the previous link's hash" in problems
    assert "public chain: link 2 no longer matches ledger transaction %d" % link.transaction_id in problems


# --- scripts/verify_public_ledger against the running shop -------------------------------------------------


@pytest.fixture
def live_sales(live_server, p6_catalogue):
    load_sales(5, refund_rate=0.4, seed=4)
    services.record_disbursement(beneficiary=Beneficiary.objects.get(slug="coming-out-st-petersburg"),
                                 amount=D("2.50"), currency="USD", paid_on=timezone.now().date(), reference="w-1")
    return live_server.url


@pytest.mark.django_db(transaction=True)
def test_anyone_verifies_the_ledger_with_the_script_and_a_saved_head(live_sales, tmp_path):
    call_command("record_ledger_head", stdout=StringIO())
    saved = tmp_path / "head.json"
    run = subprocess.run([sys.executable, str(SCRIPT), live_sales, "--save-head", str(saved)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    count = ChainLink.objects.count()
    assert run.stdout == f"ok: {count} transaction(s), chain end {ChainLink.objects.get(seq=count).hash}\n"
    assert json.loads(saved.read_text())["seq"] == count
    # later, after more sales, the saved head still holds
    load_sales(2, seed=5)
    run = subprocess.run([sys.executable, str(SCRIPT), live_sales, "--head", str(saved)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith(f"ok: {ChainLink.objects.count()} transaction(s)")


def tampering(module, base, change):
    """``module.check`` against the live shop with ``change(path, body)`` applied to what it reads."""
    real = module.fetch

    def fetch(url):
        return change(url, copy.deepcopy(real(url)))

    module.fetch = fetch
    try:
        return module.check(base, None)[0]
    finally:
        module.fetch = real


def rehash(transactions):
    prev = GENESIS
    for txn in transactions:
        txn["prev_hash"] = prev
        payload = {k: v for k, v in txn.items() if k not in ("prev_hash", "hash")}
        txn["hash"] = prev = chain.link_hash(prev, chain.canonical(payload))


@pytest.mark.django_db(transaction=True)
def test_the_script_reports_every_kind_of_tampering(live_sales):
    module = load_script()
    assert module.check(live_sales, None)[0] == []

    def on_feed(edit):
        def change(url, body):
            if "/ledger.json" in url:
                edit(body["transactions"])
            return body
        return change

    def amount(txns):
        txns[1]["amounts"][0][1] = str(D(txns[1]["amounts"][0][1]) + D("1.00"))

    assert tampering(module, live_sales, on_feed(amount))[0] == "link 2: its hash does not match its content"

    def kind(txns):
        txns[0]["kind"] = "adjustment"

    assert "link 1: its hash does not match its content" in tampering(module, live_sales, on_feed(kind))

    def drop(txns):
        del txns[2]

    problems = tampering(module, live_sales, on_feed(drop))
    assert problems[0] == "sequence 3 missing: the feed goes on at 4"
    assert "link 4: its previous hash is not link 3's" in problems

    def swap(txns):
        txns[1], txns[2] = txns[2], txns[1]

    problems = tampering(module, live_sales, on_feed(swap))
    assert problems[:2] == ["sequence 2 missing: the feed goes on at 3", "link 3: its previous hash is not link 2's"]

    def rewritten(txns):  # a consistent rewrite: amounts changed and every hash recomputed
        txns[0]["amounts"][0][1] = "0.01"
        rehash(txns)

    problems = tampering(module, live_sales, on_feed(rewritten))
    assert any(p.startswith("the chain's end ") for p in problems)
    assert any(p.startswith("USD raised: totals.json says ") for p in problems)


@pytest.mark.django_db(transaction=True)
def test_a_rewrite_of_the_history_after_a_saved_head_is_reported(live_sales):
    module = load_script()
    call_command("record_ledger_head", stdout=StringIO())
    saved = module.fetch(f"{live_sales}/fundraising/ledger/head.json")

    def rewrite(url, body):  # the shop rewrites link 1 and re-seals everything, its totals included
        if "/ledger.json" in url:
            body["transactions"][0]["memo"] = "rewritten"
            rehash(body["transactions"])
        if "/totals.json" in url:
            body["ledger"]["hash"] = "f" * 64
        return body

    real = module.fetch
    module.fetch = lambda url: rewrite(url, copy.deepcopy(real(url)))
    try:
        problems, _ = module.check(live_sales, saved)
    finally:
        module.fetch = real
    assert f"the chain no longer passes through the saved head {saved['seq']} ({saved['hash']}): " \
           "the history before it was rewritten" in problems


def test_the_script_exits_2_with_one_line_when_the_shop_cannot_be_read(tmp_path):
    run = subprocess.run([sys.executable, str(SCRIPT), "http://127.0.0.1:9"], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.startswith("verify_public_ledger: cannot read the ledger at http://127.0.0.1:9: ")
    assert run.stderr.count("\n") == 1


@pytest.mark.django_db
def test_verify_ledger_compares_every_breakdown_with_its_order_line(sales):
    """The insider's rewrite: a breakdown row's revenue and unit cost moved together (its arithmetic still right)."""
    from fundraising.models import OrderLineBreakdown

    row = OrderLineBreakdown.objects.filter(completed_at__isnull=False).select_related("line", "order").first()
    with connection.cursor() as cursor:
        # with the trigger switched off, as an insider could (the database refuses it otherwise: test below)
        if connection.vendor == "sqlite":
            cursor.execute("DROP TRIGGER fundraising_orderlinebreakdown_completes_only")
        else:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE fundraising_orderlinebreakdown DISABLE TRIGGER "
                           "fundraising_orderlinebreakdown_completes_only")
        cursor.execute("UPDATE fundraising_orderlinebreakdown SET revenue_excl_tax = revenue_excl_tax + 5, "
                       "unit_cost = unit_cost + 5.0 / quantity WHERE id = %s", [row.pk])
    problems = list(ledger_violations())
    expected = (f"breakdown: line {row.line_id} of order {row.order.number} says {row.quantity} for "
                f"{row.revenue_excl_tax + 5:.2f} USD, but the order line is {row.line.quantity} for "
                f"{row.line.line_price_excl_tax:.2f} USD")
    assert expected in problems
    assert "append-only: trigger fundraising_orderlinebreakdown_completes_only is missing or disabled" in problems


@pytest.mark.django_db
@pytest.mark.parametrize("sql", [
    "UPDATE fundraising_orderlinebreakdown SET revenue_excl_tax = revenue_excl_tax + 5 WHERE id = %s",
    "UPDATE fundraising_orderlinebreakdown SET donation = donation + 1 WHERE id = %s",
    "UPDATE fundraising_orderlinebreakdown SET completed_at = NULL WHERE id = %s",
    "DELETE FROM fundraising_orderlinebreakdown WHERE id = %s",
])
def test_the_database_refuses_to_rewrite_a_completed_breakdown(sales, sql):
    from django.db import DatabaseError, transaction

    from fundraising.models import OrderLineBreakdown

    row = OrderLineBreakdown.objects.filter(completed_at__isnull=False).first()
    before = OrderLineBreakdown.objects.filter(pk=row.pk).values().get()
    with pytest.raises(DatabaseError, match="fundraising_orderlinebreakdown"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, [row.pk])
    assert OrderLineBreakdown.objects.filter(pk=row.pk).values().get() == before


@pytest.mark.django_db
def test_an_incomplete_breakdown_may_only_be_completed(p6_catalogue):
    from django.db import DatabaseError, transaction

    from fundraising.models import OrderLineBreakdown
    from tests.fundraising.support import pay, place_order

    call_command("load_p6_fundraising", stdout=StringIO())
    order = place_order((p6_catalogue.get(partner_sku="P6-PIN"), 2))
    row = OrderLineBreakdown.objects.get(order=order)
    assert row.completed_at is None
    with pytest.raises(DatabaseError, match="only the completion"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE fundraising_orderlinebreakdown SET unit_cost = 0 WHERE id = %s", [row.pk])
    # the sale completes it, as every payment does
    pay(order)
    row.refresh_from_db()
    assert row.completed_at is not None and row.unit_cost == D("1.75") and row.donation > 0
    assert list(ledger_violations()) == []


@pytest.mark.django_db
def test_checking_the_chain_costs_the_same_queries_however_long_it_is(sales):
    from django.test.utils import CaptureQueriesContext

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert list(chain.verify_chain()) == []
        return len(ctx.captured_queries)

    before = queries()
    load_sales(4, refund_rate=0.5, seed=12)
    assert ChainLink.objects.count() > 12
    assert queries() == before
