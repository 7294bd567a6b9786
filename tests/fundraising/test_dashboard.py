"""Staff read, audit, export and pay out the donation ledger in Oscar's dashboard (issue 5)."""

import csv
import datetime as dt
import io
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from fundraising import selectors, services
from fundraising.dashboard import views
from fundraising.exports import CSV_COLUMNS, entry_csv_rows
from fundraising.models import (
    Beneficiary,
    CampaignGoal,
    Disbursement,
    Entry,
    LedgerTransaction,
    ShareRule,
)
from tests.fundraising.dashboard_support import entry_ids, figure, link, load_sales, make_user, money

pytestmark = pytest.mark.django_db

VIEW = "fundraising.view_ledger"
WRITE = "fundraising.record_disbursement"


@pytest.fixture
def sales(p6_catalogue):
    """12 simulated paid orders, some refunded, on the P6 beneficiaries and 50 % rule."""
    load_sales(12, refund_rate=0.4)


@pytest.fixture
def ledger_staff(client, django_user_model):
    client.force_login(make_user(django_user_model, "reader", staff=True, perms=[VIEW]))
    return client


@pytest.fixture
def treasurer(client, django_user_model):
    user = make_user(django_user_model, "treasurer", staff=True, perms=[VIEW, WRITE])
    client.force_login(user)
    client.user = user
    return client


def network():
    return Beneficiary.objects.get(slug="russian-lgbt-network")


# --- permissions ------------------------------------------------------------------------------------

VIEW_URLS = [
    "fundraising-dashboard:overview", "fundraising-dashboard:ledger", "fundraising-dashboard:ledger-csv",
    "fundraising-dashboard:ledger-beancount", "fundraising-dashboard:ledger-breakdown-csv",
    "fundraising-dashboard:statement",
    "fundraising-dashboard:disbursement-list", "fundraising-dashboard:beneficiary-list",
    "fundraising-dashboard:rule-list",
]
WRITE_URLS = [
    "fundraising-dashboard:disbursement-create", "fundraising-dashboard:beneficiary-create",
    "fundraising-dashboard:beneficiary-edit", "fundraising-dashboard:rule-create", "fundraising-dashboard:goal",
    "fundraising-dashboard:partner-import",
]


def _url(name):
    if name == "fundraising-dashboard:beneficiary-edit":
        beneficiary = (Beneficiary.objects.first()
                       or Beneficiary.objects.create(name="Alpha", slug="alpha", country="RU"))
        return reverse(name, kwargs={"pk": beneficiary.pk})
    return reverse(name)


def test_every_fundraising_dashboard_url_is_in_the_matrix():
    from django.apps import apps

    names = {f"fundraising-dashboard:{p.name}" for p in apps.get_app_config("fundraising_dashboard").get_urls()}
    assert names == set(VIEW_URLS) | set(WRITE_URLS)


@pytest.mark.parametrize("name", VIEW_URLS + WRITE_URLS)
@pytest.mark.parametrize("who, perms, staff", [
    ("anonymous", None, False),
    ("customer", (), False),
    ("staff", (), True),
    ("reader", (VIEW,), True),
    ("treasurer", (VIEW, WRITE), True),
    ("customer-with-perms", (VIEW, WRITE), False),
])
def test_permission_matrix(client, django_user_model, name, who, perms, staff):
    # given a user of each kind
    url = _url(name)
    if perms is not None:
        client.force_login(make_user(django_user_model, who, staff=staff, perms=perms))
    # when they open the page
    response = client.get(url)
    # then anonymous users go to the dashboard login, others get the page only with the permission, else 403
    if who == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("dashboard:login"))
    elif who == "treasurer" or (who == "reader" and name in VIEW_URLS):
        assert response.status_code == 200
    else:
        assert response.status_code == 403


def test_posting_a_write_form_without_the_permission_is_refused_and_writes_nothing(ledger_staff, sales):
    before = Disbursement.objects.count()
    response = ledger_staff.post(reverse("fundraising-dashboard:disbursement-create"), {
        "beneficiary": network().pk, "currency": "USD", "amount": "1.00", "paid_on": "2026-01-01",
        "reference": "X", "confirm": "yes"})
    assert response.status_code == 403
    assert Disbursement.objects.count() == before


def test_the_dashboard_menu_shows_fundraising_to_its_readers_only(client, django_user_model, db):
    client.force_login(make_user(django_user_model, "plain", staff=True))
    assert reverse("fundraising-dashboard:overview") not in client.get("/dashboard/").content.decode()
    client.force_login(make_user(django_user_model, "reader", staff=True, perms=[VIEW]))
    page = client.get("/dashboard/")
    assert page.status_code == 200
    assert reverse("fundraising-dashboard:overview") in page.content.decode()


# --- overview -------------------------------------------------------------------------------------


def test_overview_figures_equal_the_ledger_balances(ledger_staff, sales):
    # given sales, refunds and a payout
    services.record_disbursement(beneficiary=network(), amount=D("10.00"), currency="USD",
                                 paid_on=timezone.now().date(), reference="wire-1")
    balances = selectors.beneficiary_balances(currency="USD")
    # when staff open the overview
    response = ledger_staff.get(reverse("fundraising-dashboard:overview"))
    html = response.content.decode()
    # then each beneficiary's row and the totals are the selectors' figures
    assert response.status_code == 200
    assert any(row.reversed > 0 for row in balances) and any(row.disbursed == D("10.00") for row in balances)
    for row in balances:
        for name in ("earned", "reversed", "disbursed", "adjusted", "payable", "receivable"):
            assert figure(html, row.beneficiary.slug, name) == money(getattr(row, name))
    for name in ("earned", "reversed", "disbursed", "payable"):
        assert figure(html, "total", name) == money(sum((getattr(row, name) for row in balances), D(0)))
    assert "<svg" in html and "cdn" not in html.lower()


def test_overview_chart_has_todays_donations(ledger_staff, sales):
    posted = sum(Entry.objects.filter(transaction__kind="sale", account__kind="payable")
                 .values_list("credit", flat=True))
    html = ledger_staff.get(reverse("fundraising-dashboard:overview")).content.decode()
    assert f"{timezone.now().date().isoformat()}: {money(posted)}" in html


# --- ledger, filters, keyset pagination, CSV --------------------------------------------------------


def _walk(client, url, rel="next"):
    pages, seen = 0, []
    while url:
        html = client.get(url).content.decode()
        seen += entry_ids(html)
        pages += 1
        following = link(html, rel)
        url = reverse("fundraising-dashboard:ledger") + following if following else None
    return seen, pages


def test_keyset_pagination_walks_every_entry_once_both_ways(ledger_staff, sales, monkeypatch):
    # given more entries than a page (7 per page here)
    monkeypatch.setattr(views, "PAGE_SIZE", 7)
    every = list(Entry.objects.order_by("-id").values_list("id", flat=True))
    assert len(every) > 21
    # when staff follow "next" from the first page to the last
    seen, pages = _walk(ledger_staff, reverse("fundraising-dashboard:ledger"))
    # then every entry shows once, newest first: no duplicates, no gaps
    assert seen == every
    assert pages == -(-len(every) // 7)
    # and following "previous" from the last page back comes back over the same rows
    last_cursor = every[-(len(every) % 7 or 7)] + 0
    back, _ = _walk(ledger_staff, reverse("fundraising-dashboard:ledger") + f"?before={every[-1] - 1}", rel="prev")
    assert sorted(back, reverse=True) == every and len(back) == len(set(back))
    assert last_cursor in back


def _ledger_ids(client, query, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 10)
    seen, _ = _walk(client, reverse("fundraising-dashboard:ledger") + "?" + query)
    return seen


@pytest.mark.parametrize("make_query, expected", [
    (lambda: f"beneficiary={network().pk}",
     lambda: Entry.objects.filter(account__beneficiary__slug="russian-lgbt-network")),
    (lambda: "kind=refund", lambda: Entry.objects.filter(transaction__kind="refund")),
    (lambda: "kind=sale", lambda: Entry.objects.filter(transaction__kind="sale")),
    (lambda: "currency=usd", lambda: Entry.objects.filter(currency="USD")),
    (lambda: "currency=EUR", lambda: Entry.objects.none()),
    (lambda: f"date_from={timezone.now().date()}&date_to={timezone.now().date()}", lambda: Entry.objects.all()),
    (lambda: f"date_to={timezone.now().date() - dt.timedelta(days=1)}", lambda: Entry.objects.none()),
    (lambda: f"date_from={timezone.now().date() + dt.timedelta(days=1)}", lambda: Entry.objects.none()),
    (lambda: "order=" + LedgerTransaction.objects.filter(kind="refund").first().order.number,
     lambda: Entry.objects.filter(transaction__order=LedgerTransaction.objects.filter(kind="refund").first().order)),
    (lambda: f"beneficiary={network().pk}&kind=refund",
     lambda: Entry.objects.filter(account__beneficiary__slug="russian-lgbt-network", transaction__kind="refund")),
])
def test_each_ledger_filter_shows_exactly_its_entries(ledger_staff, sales, monkeypatch, make_query, expected):
    # when staff filter the ledger
    seen = _ledger_ids(ledger_staff, make_query(), monkeypatch)
    # then the rows are exactly the matching entries, newest first
    assert seen == list(expected().order_by("-id").values_list("id", flat=True))


def test_filtering_by_a_date_range_before_old_entries(ledger_staff, sales, monkeypatch):
    # given an entry posted last month (a backdated adjustment is not possible, so take the posting time of a real one)
    first = Entry.objects.order_by("id").first()
    query = f"date_from={first.posted_at.date()}&date_to={first.posted_at.date()}"
    assert _ledger_ids(ledger_staff, query, monkeypatch) == list(
        Entry.objects.filter(posted_at__date=first.posted_at.date()).order_by("-id").values_list("id", flat=True))


def test_an_invalid_filter_shows_nothing_and_says_why(ledger_staff, sales):
    response = ledger_staff.get(reverse("fundraising-dashboard:ledger") + "?currency=XXXX&date_from=nope")
    assert response.status_code == 200
    assert entry_ids(response.content.decode()) == []
    assert response.context["form"].errors


def test_ledger_rows_link_to_orders_and_payouts(ledger_staff, sales):
    payout = services.record_disbursement(beneficiary=network(), amount=D("1.00"), currency="USD",
                                          paid_on=timezone.now().date(), reference="wire-7")
    html = ledger_staff.get(reverse("fundraising-dashboard:ledger")).content.decode()
    order = LedgerTransaction.objects.filter(kind="sale").last().order
    assert reverse("dashboard:order-detail", kwargs={"number": order.number}) in html
    assert f"{reverse('fundraising-dashboard:disbursement-list')}#disbursement-{payout.pk}" in html
    refund = LedgerTransaction.objects.filter(kind="refund").last()
    assert refund.reference in html


@pytest.mark.parametrize("query", ["", "kind=refund", "beneficiary={pk}", "kind=sale&currency=USD&order={number}"])
def test_the_csv_export_is_the_rows_on_screen_for_the_same_filters(ledger_staff, sales, monkeypatch, query):
    # given filters
    order = LedgerTransaction.objects.filter(kind="sale").first().order
    query = query.format(pk=network().pk, number=order.number)
    on_screen = _ledger_ids(ledger_staff, query, monkeypatch)
    # when staff export them
    response = ledger_staff.get(reverse("fundraising-dashboard:ledger-csv") + "?" + query)
    body = b"".join(response.streaming_content).decode()
    # then the CSV has the header and one row per entry on screen, in the same order, as export_ledger writes them
    rows = list(csv.reader(io.StringIO(body)))
    assert response["Content-Type"].startswith("text/csv")
    assert rows[0] == CSV_COLUMNS
    assert len(rows) - 1 == len(on_screen) > 0
    expected = [[str(cell) for cell in row]
                for row in entry_csv_rows(Entry.objects.filter(id__in=on_screen).order_by("-id"))]
    assert rows[1:] == expected
    txn_of = dict(Entry.objects.filter(id__in=on_screen).values_list("id", "transaction_id"))
    assert [int(row[1]) for row in rows[1:]] == [txn_of[pk] for pk in on_screen]


def test_the_csv_export_escapes_formula_cells(ledger_staff, sales):
    # given a beneficiary whose name (a cell of its own in the export) starts like a formula, and a payout to it
    Beneficiary.objects.filter(pk=network().pk).update(name='=HYPERLINK("x")')
    services.record_disbursement(beneficiary=network(), amount=D("1.00"), currency="USD",
                                 paid_on=timezone.now().date(), reference="=HYPERLINK(\"x\")")
    response = ledger_staff.get(reverse("fundraising-dashboard:ledger-csv") + "?kind=disbursement")
    body = b"".join(response.streaming_content)
    rows = list(csv.reader(io.StringIO(body.decode())))
    # then the beneficiary cell of the payout's rows is escaped with a leading quote, and no cell starts like one
    beneficiary = rows[0].index("beneficiary")
    payout_rows = [row for row in rows[1:] if row[rows[0].index("kind")] == "disbursement"]
    assert payout_rows and {row[beneficiary] for row in payout_rows} == {"'=HYPERLINK(\"x\")"}
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows[1:] for cell in row)


def test_the_beancount_download_is_export_ledgers(ledger_staff, sales):
    from django.core.management import call_command

    out = io.StringIO()
    call_command("export_ledger", "--format", "beancount", stdout=out)
    response = ledger_staff.get(reverse("fundraising-dashboard:ledger-beancount"))
    assert response.status_code == 200
    assert response.content.decode() == out.getvalue()


# --- statement ------------------------------------------------------------------------------------


def test_statement_shows_opening_entries_and_closing_of_the_period(ledger_staff, sales):
    # given the period is today
    today = timezone.now().date()
    expected = selectors.statement(beneficiary=network(), currency="USD", start=today, end=today)
    # when staff ask for the statement
    response = ledger_staff.get(reverse("fundraising-dashboard:statement"), {
        "beneficiary": network().pk, "currency": "USD", "start": today, "end": today})
    html = response.content.decode()
    # then opening, every entry and closing are the selector's
    assert response.status_code == 200
    assert entry_ids(html) == [entry.pk for entry in expected.entries]
    assert expected.opening == D("0.00") and expected.closing > 0
    assert money(expected.closing) in html.split('id="closing"')[1]
    assert money(expected.opening) in html.split('id="opening"')[1].split("</tr>")[0]
    assert 'media="print"' in html


def test_statement_of_a_later_period_opens_with_the_balance_so_far(ledger_staff, sales):
    tomorrow = timezone.now().date() + dt.timedelta(days=1)
    payable = [row for row in selectors.beneficiary_balances(currency="USD") if row.beneficiary == network()][0].payable
    html = ledger_staff.get(reverse("fundraising-dashboard:statement"), {
        "beneficiary": network().pk, "currency": "USD", "start": tomorrow, "end": tomorrow}).content.decode()
    assert entry_ids(html) == []
    assert money(payable) in html.split('id="opening"')[1].split("</tr>")[0]
    assert money(payable) in html.split('id="closing"')[1]


def test_statement_refuses_an_end_before_its_start(ledger_staff, sales):
    response = ledger_staff.get(reverse("fundraising-dashboard:statement"), {
        "beneficiary": network().pk, "currency": "USD", "start": "2026-02-02", "end": "2026-02-01"})
    assert response.status_code == 200 and "statement" not in response.context


# --- disbursements --------------------------------------------------------------------------------


def _payable(beneficiary):
    return [row for row in selectors.beneficiary_balances(currency="USD") if row.beneficiary == beneficiary][0].payable


def test_a_payout_goes_through_a_confirmation_step_then_is_recorded(treasurer, sales):
    # given a payable balance
    beneficiary = network()
    payable = _payable(beneficiary)
    data = {"beneficiary": beneficiary.pk, "currency": "USD", "amount": "25.00",
            "paid_on": timezone.now().date().isoformat(), "reference": "wire-2026-001"}
    url = reverse("fundraising-dashboard:disbursement-create")
    # when the treasurer submits the form
    response = treasurer.post(url, data)
    # then a confirmation page is shown and nothing is written yet
    assert response.status_code == 200 and response.context["confirm"] is True
    assert 'name="confirm" value="yes"' in response.content.decode()
    assert Disbursement.objects.count() == 0
    # when they confirm
    response = treasurer.post(url, {**data, "confirm": "yes"})
    # then the payout is recorded through the service, once
    assert response.status_code == 302
    disbursement = Disbursement.objects.get()
    assert (disbursement.amount, disbursement.reference, disbursement.created_by) == (
        D("25.00"), "wire-2026-001", treasurer.user)
    assert _payable(beneficiary) == payable - D("25.00")
    listing = treasurer.get(reverse("fundraising-dashboard:disbursement-list")).content.decode()
    assert f'id="disbursement-{disbursement.pk}"' in listing and "wire-2026-001" in listing


@pytest.mark.parametrize("confirm", ["", "yes"])
def test_a_payout_over_the_payable_balance_is_refused_and_nothing_is_written(treasurer, sales, confirm):
    # given the payable balance
    beneficiary = network()
    payable = _payable(beneficiary)
    entries, transactions = Entry.objects.count(), LedgerTransaction.objects.count()
    # when the treasurer asks for one cent more (directly confirmed or not)
    response = treasurer.post(reverse("fundraising-dashboard:disbursement-create"), {
        "beneficiary": beneficiary.pk, "currency": "USD", "amount": str(payable + D("0.01")),
        "paid_on": timezone.now().date().isoformat(), "reference": "too-much", "confirm": confirm})
    # then the form says why and nothing is written
    assert response.status_code == 200
    assert response.context["form"].errors["amount"]
    assert not response.context.get("confirm")
    assert (Disbursement.objects.count(), Entry.objects.count(), LedgerTransaction.objects.count()) == (
        0, entries, transactions)


def test_a_payout_refused_by_the_service_at_confirmation_writes_nothing(treasurer, sales, monkeypatch):
    # given the balance changes between the form check and the service (a refund in between)
    from fundraising.dashboard import forms

    monkeypatch.setattr(forms, "account_balance", lambda account: D("1000000.00"))
    payable = _payable(network())
    response = treasurer.post(reverse("fundraising-dashboard:disbursement-create"), {
        "beneficiary": network().pk, "currency": "USD", "amount": str(payable + D("1.00")),
        "paid_on": timezone.now().date().isoformat(), "reference": "race", "confirm": "yes"})
    assert response.status_code == 200
    assert "payable balance" in str(response.context["form"].non_field_errors())
    assert Disbursement.objects.count() == 0


# --- beneficiaries, rules, goal ---------------------------------------------------------------------


def test_staff_create_and_edit_a_beneficiary(treasurer, db):
    response = treasurer.post(reverse("fundraising-dashboard:beneficiary-create"), {
        "name": "Moscow Community Center", "slug": "moscow-community-center", "description": "Safe space",
        "country": "ru", "active": "on", "default_weight": "2", "visibility": "aggregated", "public_name": ""})
    assert response.status_code == 302
    beneficiary = Beneficiary.objects.get(slug="moscow-community-center")
    assert (beneficiary.country, beneficiary.default_weight, beneficiary.visibility) == ("RU", 2, "aggregated")
    response = treasurer.post(reverse("fundraising-dashboard:beneficiary-edit", kwargs={"pk": beneficiary.pk}), {
        "name": "Moscow Community Centre", "slug": "moscow-community-center", "description": "",
        "country": "RU", "default_weight": "1", "visibility": "aliased", "public_name": "Group M"})
    assert response.status_code == 302
    beneficiary.refresh_from_db()
    assert (beneficiary.name, beneficiary.active, beneficiary.public_label) == ("Moscow Community Centre", False,
                                                                                "Group M")
    assert "Moscow Community Centre" in (
        treasurer.get(reverse("fundraising-dashboard:beneficiary-list")).content.decode())


def test_a_new_share_rule_applies_from_now_and_the_history_stays(treasurer, sales):
    # given the campaign rule in force
    old = selectors.rule_in_force()
    beneficiaries = list(Beneficiary.objects.order_by("name"))
    data = {"share_percent": "60", "note": "more for the groups"}
    data.update({f"weight_{b.pk}": "1" for b in beneficiaries})
    data[f"weight_{beneficiaries[0].pk}"] = "0"
    # when staff set a new rule
    response = treasurer.post(reverse("fundraising-dashboard:rule-create"), data)
    # then it is in force from now, the old one is closed (not edited) and both are listed
    assert response.status_code == 302
    new = selectors.rule_in_force()
    old.refresh_from_db()
    assert new.pk != old.pk and new.share_bps == 6000 and old.share_bps == 5000
    assert old.valid_to == new.valid_from
    assert {a.beneficiary for a in new.allocations.all()} == set(beneficiaries[1:])
    assert new.created_by == treasurer.user
    html = treasurer.get(reverse("fundraising-dashboard:rule-list")).content.decode()
    assert f'data-rule="{old.pk}"' in html and f'data-rule="{new.pk}"' in html
    assert ShareRule.objects.count() == 2


def test_a_rule_without_any_weight_is_refused(treasurer, sales):
    data = {"share_percent": "50"}
    data.update({f"weight_{b.pk}": "0" for b in Beneficiary.objects.all()})
    response = treasurer.post(reverse("fundraising-dashboard:rule-create"), data)
    assert response.status_code == 200 and response.context["form"].errors
    assert ShareRule.objects.count() == 1


def test_staff_set_the_campaign_goal(treasurer, db):
    response = treasurer.post(reverse("fundraising-dashboard:goal"), {"amount": "5000.00"})
    assert response.status_code == 302
    goal = CampaignGoal.objects.get()
    assert (goal.currency, goal.amount, goal.updated_by) == ("USD", D("5000.00"), treasurer.user)


# --- the dashboard's order page ---------------------------------------------------------------------


def test_the_dashboard_order_page_shows_the_breakdown_and_reversals(staff_client, sales):
    # given a refunded order
    refund = LedgerTransaction.objects.filter(kind="refund").first()
    order = refund.order
    # when staff open its page
    html = staff_client.get(reverse("dashboard:order-detail", kwargs={"number": order.number})).content.decode()
    # then the donation of each line and beneficiary and the reversal are there, as stored
    total = sum(b.donation for b in order.donation_breakdowns.all())
    assert 'id="p6-donation-breakdown"' in html
    assert money(total) in html.split('id="p6-donation-total"')[1][:80]
    reversed_ = sum(e.debit for e in refund.entries.all() if e.account.beneficiary_id)
    assert money(reversed_) in html.split('id="p6-reversals"')[1]
    for breakdown in order.donation_breakdowns.all():
        assert f'data-line="{breakdown.line_id}"' in html


# --- query counts -------------------------------------------------------------------------------------


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
    assert response.status_code == 200
    return len(ctx.captured_queries)


PAGES = [
    lambda: reverse("fundraising-dashboard:overview"),
    lambda: reverse("fundraising-dashboard:ledger"),
    lambda: reverse("fundraising-dashboard:ledger") + f"?beneficiary={network().pk}&kind=sale",
    lambda: reverse("fundraising-dashboard:ledger") + f"?after={Entry.objects.order_by('-id')[3].pk}",
    lambda: reverse("fundraising-dashboard:ledger-csv"),
    lambda: reverse("fundraising-dashboard:ledger-beancount"),
    lambda: reverse("fundraising-dashboard:statement")
    + f"?beneficiary={network().pk}&currency=USD&start=2020-01-01&end=2099-01-01",
    lambda: reverse("fundraising-dashboard:disbursement-list"),
    lambda: reverse("fundraising-dashboard:beneficiary-list"),
    lambda: reverse("fundraising-dashboard:rule-list"),
    lambda: reverse("fundraising-dashboard:disbursement-create"),
    lambda: reverse("fundraising-dashboard:rule-create"),
    lambda: reverse("fundraising-dashboard:goal"),
    lambda: reverse("dashboard:order-detail",
                    kwargs={"number": LedgerTransaction.objects.filter(kind="sale").first().order.number}),
]


def _grow(extra_beneficiaries):
    """More orders, entries, payouts, beneficiaries and rules."""
    from django.core.management import call_command

    from tests.fundraising.dashboard_support import Sink

    new = [Beneficiary.objects.create(name=f"Group {i}", slug=f"group-{i}", country="RU")
           for i in range(extra_beneficiaries)]
    services.set_share_rule(share_bps=5000, weights=[(b, 1) for b in Beneficiary.objects.filter(active=True)])
    call_command("simulate_sales", orders=15, refund_rate=0.4, seed=7, restock=True, stdout=Sink())
    for i, beneficiary in enumerate(Beneficiary.objects.all()):
        payable = _payable(beneficiary)
        if payable > D("1.00"):
            services.record_disbursement(beneficiary=beneficiary, amount=D("1.00"), currency="USD",
                                         paid_on=timezone.now().date(), reference=f"grow-{i}")
    return new


def test_query_counts_do_not_grow_with_the_ledger(staff_client, p6_catalogue):
    treasurer = staff_client  # a superuser: the order page needs Oscar's order permissions too
    # given a small ledger
    load_sales(3, refund_rate=0.5)
    services.record_disbursement(beneficiary=network(), amount=D("1.00"), currency="USD",
                                 paid_on=timezone.now().date(), reference="small")
    small = [_queries(treasurer, page()) for page in PAGES]
    entries_small = Entry.objects.count()
    # when the ledger grows (orders, entries, refunds, payouts, beneficiaries, rules)
    _grow(4)
    assert Entry.objects.count() > 3 * entries_small
    large = [_queries(treasurer, page()) for page in PAGES]
    # then every page makes the same number of queries
    assert large == small
