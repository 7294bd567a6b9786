"""Staff figures a finance person can sign (issue 17, item 6): percentages, one money format, filtered totals
and exports equal to the rows shown, statement links, the payable before input, memos whole, the chart's axes,
the dashboard index's paid revenue and progress on a terminal only."""

import csv
import io
import re
from decimal import Decimal as D

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from fundraising import selectors, services
from fundraising.dashboard import views
from fundraising.money import quantize
from fundraising.models import Beneficiary, BreakdownPart, Entry, LedgerTransaction, ShareRule
from fundraising.templatetags.fundraising_tags import percent_of_bps
from tests.fundraising import support
from tests.fundraising.dashboard_support import Sink, entry_ids, figure, link, load_sales, make_user, money

pytestmark = pytest.mark.django_db

VIEW = "fundraising.view_ledger"
WRITE = "fundraising.record_disbursement"


@pytest.fixture
def sales(p6_catalogue):
    """12 simulated paid orders, some refunded, a payout: sales, refunds and a disbursement in the ledger."""
    load_sales(12, refund_rate=0.4)
    services.record_disbursement(beneficiary=network(), amount=D("3.00"), currency="USD",
                                 paid_on=timezone.now().date(), reference="wire-17")


@pytest.fixture
def treasurer(client, django_user_model):
    client.force_login(make_user(django_user_model, "treasurer", staff=True, perms=[VIEW, WRITE]))
    return client


def network():
    return Beneficiary.objects.get(slug="russian-lgbt-network")


# --- percentages ------------------------------------------------------------------------------------


def test_percent_of_bps_reads_basis_points_as_a_percentage():
    assert [percent_of_bps(bps) for bps in (5000, 10000, 1234, 50, 0)] == ["50", "100", "12.34", "0.5", "0"]


def test_share_rules_read_as_percentages_where_staff_read_them(treasurer, admin_client, sales):
    rule = ShareRule.objects.get()
    assert rule.share_bps == 5000  # stored as basis points
    listing = treasurer.get(reverse("fundraising-dashboard:rule-list")).content.decode()
    assert f'<tr data-rule="{rule.pk}"' in listing
    assert '<td data-figure="share">50 %</td>' in listing
    overview = treasurer.get(reverse("fundraising-dashboard:overview")).content.decode()
    assert "Share rule in force: 50 % of each line's profit" in overview
    form = treasurer.get(reverse("fundraising-dashboard:rule-create")).content.decode()
    assert "A percentage of each line's profit, from 0 to 100 (e.g. 50 for half)" in form
    assert 'value="50' in form
    order = LedgerTransaction.objects.filter(kind="sale").first().order
    detail = admin_client.get(reverse("dashboard:order-detail", kwargs={"number": order.number})).content.decode()
    assert '<td class="text-right">50 %</td>' in detail
    for html in (listing, overview, form, detail):
        assert not re.search(r"\d bp\b|basis points", html)


# --- filtered totals and every export equal the rows shown --------------------------------------------


def _rows_shown(client, query, monkeypatch):
    """Every entry id the ledger shows for ``query``, walking its pages (5 rows a page), and the first page."""
    monkeypatch.setattr(views, "PAGE_SIZE", 5)
    url, seen, first = reverse("fundraising-dashboard:ledger") + "?" + query, [], None
    while url:
        html = client.get(url).content.decode()
        first = first or html
        seen += entry_ids(html)
        following = link(html, "next")
        url = reverse("fundraising-dashboard:ledger") + following if following else None
    return seen, first


def _totals_cells(html, currency="USD"):
    row = re.search(rf'<tr data-currency="{currency}">(.*?)</tr>', html.split('id="ledger-totals"')[1], re.S).group(1)
    return {name: re.search(rf'data-figure="{name}">([^<]*)<', row).group(1) for name in ("count", "debit", "credit",
                                                                                           "net")}


QUERIES = [
    "",
    "kind=sale",
    "kind=refund",
    "beneficiary={network}",
    "beneficiary={network}&kind=sale",
    "beneficiary={network}&kind=disbursement",
    "currency=usd&date_from={today}&date_to={today}",
    "order={refunded}",
    "order={refunded}&beneficiary={network}",
]


@pytest.mark.parametrize("template", QUERIES)
def test_filtered_totals_and_every_export_equal_the_rows_shown(treasurer, sales, monkeypatch, template):
    # given a filter combination
    refunded = LedgerTransaction.objects.filter(kind="refund").first().order.number
    query = template.format(network=network().pk, today=timezone.now().date().isoformat(), refunded=refunded)
    # when staff read every page of the filtered ledger
    shown, html = _rows_shown(treasurer, query, monkeypatch)
    assert shown, "every combination here matches some rows"
    rows = Entry.objects.filter(id__in=shown)
    debit, credit = sum(rows.values_list("debit", flat=True), D(0)), sum(rows.values_list("credit", flat=True), D(0))
    # then the totals are the sums of the rows shown, on every page, in the one money format
    cells = _totals_cells(html)
    assert cells == {"count": str(len(shown)), "debit": money(debit), "credit": money(credit),
                     "net": money(debit - credit)}
    # and the CSV download (its link on the page) has exactly those rows and sums
    csv_url = re.search(r'id="export-csv" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    body = b"".join(treasurer.get(csv_url).streaming_content).decode()
    table = list(csv.DictReader(io.StringIO(body)))
    txn_of = dict(rows.values_list("id", "transaction_id"))
    assert [int(row["transaction_id"]) for row in table] == [txn_of[pk] for pk in shown]
    assert sum((D(row["debit"]) for row in table), D(0)) == debit
    assert sum((D(row["credit"]) for row in table), D(0)) == credit
    # and the beancount download (its link on the page) has the transactions of those rows, no other
    bean_url = re.search(r'id="export-beancount" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    text = treasurer.get(bean_url).content.decode()
    exported = {int(pk) for pk in re.findall(r"ledger-id: (\d+)", text)}
    transactions = set(txn_of.values())
    if query in ("", "currency=usd&date_from={0}&date_to={0}".format(timezone.now().date().isoformat())):
        # unfiltered (or one currency, every day of it here): every transaction, with or without rows
        transactions = set(LedgerTransaction.objects.values_list("id", flat=True))
    assert exported == transactions
    # and the shown rows' postings are in it, to the cent
    for entry in rows.select_related("account__beneficiary"):
        amount = entry.debit if entry.debit else -entry.credit
        assert re.search(rf"ledger-id: {entry.transaction_id}\n(?:  .*\n)*?  \S+  {amount:.2f} USD", text)
    # and the breakdown download has the lines of the orders of those rows (the filtered group's parts only)
    breakdown_url = re.search(r'id="export-breakdown" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    lines = list(csv.DictReader(io.StringIO(b"".join(treasurer.get(breakdown_url).streaming_content).decode())))
    orders = set(rows.exclude(transaction__order=None).values_list("transaction__order__number", flat=True))
    assert {row["order_number"] for row in lines} == orders
    parts = BreakdownPart.objects.filter(breakdown__order__number__in=orders)
    if "beneficiary" in query:
        parts = parts.filter(beneficiary=network())
        assert {row["beneficiary"] for row in lines} <= {network().name}
    assert len(lines) == parts.count()
    assert sum((D(row["beneficiary_amount"]) for row in lines), D(0)) == sum(
        parts.values_list("amount", flat=True), D(0))


def test_invalid_filters_export_nothing(treasurer, sales):
    text = treasurer.get(reverse("fundraising-dashboard:ledger-beancount") + "?currency=XXXX").content.decode()
    assert "ledger-id:" not in text
    body = b"".join(treasurer.get(reverse("fundraising-dashboard:ledger-breakdown-csv") + "?date_from=x")
                    .streaming_content).decode()
    assert body.count("\n") == 1


def test_the_unfiltered_totals_are_the_ledgers(treasurer, sales):
    html = treasurer.get(reverse("fundraising-dashboard:ledger")).content.decode()
    every = Entry.objects.all()
    total = sum(every.values_list("debit", flat=True), D(0))
    assert total == sum(every.values_list("credit", flat=True), D(0))  # double entry
    assert _totals_cells(html) == {"count": str(every.count()), "debit": money(total), "credit": money(total),
                                   "net": money(0)}


# --- statement links --------------------------------------------------------------------------------


def _period():
    today = timezone.now().date()
    return today.replace(day=1).isoformat(), today.isoformat()


def _follow(client, href):
    response = client.get(href.replace("&amp;", "&"))
    return response.context["statement"], response.context["form"]


def test_statement_links_preselect_the_group_and_the_period(treasurer, sales):
    start, end = _period()
    group = network()
    # the overview's link of the group's row
    overview = treasurer.get(reverse("fundraising-dashboard:overview")).content.decode()
    row = re.search(r'data-beneficiary="russian-lgbt-network"(.*?)</tr>', overview, re.S).group(1)
    href = re.search(r'href="([^"]+)" class="p6-statement-link"', row).group(1)
    assert href == (f"{reverse('fundraising-dashboard:statement')}?beneficiary={group.pk}&amp;currency=USD"
                    f"&amp;start={start}&amp;end={end}")
    statement, form = _follow(treasurer, href)
    assert (statement.beneficiary, statement.currency) == (group, "USD")
    assert (form["beneficiary"].value(), form["start"].value(), form["end"].value()) == (str(group.pk), start, end)
    # the beneficiary list's link
    listing = treasurer.get(reverse("fundraising-dashboard:beneficiary-list")).content.decode()
    assert (f"?beneficiary={group.pk}&amp;currency=USD&amp;start={start}&amp;end={end}") in listing
    # the ledger filtered by the group and a period links to that group's statement of that period
    ledger = treasurer.get(reverse("fundraising-dashboard:ledger"), {
        "beneficiary": group.pk, "date_from": "2026-01-01", "date_to": end}).content.decode()
    href = re.search(r'id="statement-link" href="([^"]+)"', ledger).group(1)
    assert href.endswith(f"?beneficiary={group.pk}&amp;currency=USD&amp;start=2026-01-01&amp;end={end}")
    statement, _ = _follow(treasurer, href)
    assert statement.beneficiary == group and statement.start.date().isoformat() == "2026-01-01"
    # a link naming the group alone opens its statement of the current month
    statement, form = _follow(treasurer, f"{reverse('fundraising-dashboard:statement')}?beneficiary={group.pk}")
    assert statement.beneficiary == group and (form["start"].value(), form["end"].value()) == (start, end)
    # an unfiltered ledger has no statement link
    assert 'id="statement-link"' not in treasurer.get(reverse("fundraising-dashboard:ledger")).content.decode()


# --- the payout form shows the payable before input ---------------------------------------------------


def test_the_payout_form_shows_each_payable_before_anything_is_typed(treasurer, sales):
    balances = selectors.beneficiary_balances(currency="USD")
    html = treasurer.get(reverse("fundraising-dashboard:disbursement-create")).content.decode()
    assert 'id="payables"' in html and "has-error" not in html
    assert any(row.payable > 0 for row in balances)
    for row in balances:
        assert figure(html, row.beneficiary.slug, "payable") == money(row.payable)
    # a link for one group preselects it
    response = treasurer.get(reverse("fundraising-dashboard:disbursement-create"), {"beneficiary": network().pk})
    assert response.context["form"]["beneficiary"].value() == str(network().pk)


# --- one money format ---------------------------------------------------------------------------------


def test_staff_pages_print_money_one_way(treasurer, sales):
    group = network()
    start, end = _period()
    pages = [
        reverse("fundraising-dashboard:overview"), reverse("fundraising-dashboard:ledger"),
        reverse("fundraising-dashboard:disbursement-list"), reverse("fundraising-dashboard:disbursement-create"),
        f"{reverse('fundraising-dashboard:statement')}?beneficiary={group.pk}&currency=USD&start={start}&end={end}",
    ]
    for url in pages:
        html = treasurer.get(url).content.decode()
        html = re.sub(r'<td class="p6-memo">.*?</td>', "", html, flags=re.S)  # memos are stored text, as posted
        # no raw four-place amounts, no "1.00 USD" beside "$1.00"
        assert not re.search(r"\d\.\d{3,} ?USD|\d\.\d\d USD", html), url
    ledger = treasurer.get(reverse("fundraising-dashboard:ledger")).content.decode()
    entry = Entry.objects.filter(credit__gt=0).order_by("-id").first()
    assert money(entry.credit) in ledger.split(f'data-entry="{entry.pk}"')[1].split("</tr>")[0]
    assert money(D("3.00")) == "$3.00"
    assert money(D("3.00")) in treasurer.get(reverse("fundraising-dashboard:disbursement-list")).content.decode()


def test_a_recorded_payout_says_its_amount_in_the_money_format(treasurer, sales):
    payable = [row for row in selectors.beneficiary_balances(currency="USD") if row.beneficiary == network()][0]
    assert payable.payable >= D("1.50")
    data = {"beneficiary": network().pk, "currency": "USD", "amount": "1.5",
            "paid_on": timezone.now().date().isoformat(), "reference": "wire-18", "confirm": "yes"}
    response = treasurer.post(reverse("fundraising-dashboard:disbursement-create"), data, follow=True)
    assert "Recorded the payout of $1.50 to Russian LGBT Network." in response.content.decode()


# --- memos wrap ---------------------------------------------------------------------------------------


def test_memos_are_shown_whole_and_wrap_between_words_on_screen_and_in_print(treasurer, sales):
    reference = "quarterly transfer to the shelter account in Saint Petersburg, second instalment of 2026 " * 2
    services.record_disbursement(beneficiary=network(), amount=D("1.00"), currency="USD",
                                 paid_on=timezone.now().date(), reference=reference.strip())
    memo = LedgerTransaction.objects.filter(kind="disbursement").latest("id").memo
    assert len(memo) > 200
    html = treasurer.get(reverse("fundraising-dashboard:ledger") + "?kind=disbursement").content.decode()
    assert f'<td class="p6-memo">{memo}</td>' in html
    assert re.search(r"\.p6-memo, \.p6-ref \{ white-space: normal; overflow-wrap: break-word; word-break: normal;",
                     html)
    from django.contrib.staticfiles import finders

    with open(finders.find("fundraising/print.css")) as css:
        printed = css.read()
    assert ".p6-memo, .p6-ref { white-space: normal !important; overflow-wrap: break-word; word-break: normal; }" in (
        printed)
    start, end = _period()
    statement = treasurer.get(reverse("fundraising-dashboard:statement"), {
        "beneficiary": network().pk, "currency": "USD", "start": start, "end": end}).content.decode()
    assert f'<td class="p6-memo">{memo}</td>' in statement


# --- the overview chart ---------------------------------------------------------------------------------


def test_the_chart_has_one_bar_per_day_dates_and_axis_values(treasurer, p6_catalogue):
    call_command("load_p6_fundraising", stdout=Sink())
    call_command("simulate_sales", orders=9, days=3, restock=True, stdout=Sink())
    html = treasurer.get(reverse("fundraising-dashboard:overview")).content.decode()
    svg = html.split('class="p6-chart"')[1].split("</svg>")[0]
    bars = re.findall(r'<rect class="p6-bar" data-day="([\d-]+)" [^>]*height="([\d.]+)"', svg)
    assert len(bars) == views.CHART_DAYS and len({day for day, _ in bars}) == views.CHART_DAYS
    per_day = selectors.donations_per_day(currency="USD", start=timezone.now().date() - __import__(
        "datetime").timedelta(days=2))
    assert len(per_day) == 3
    assert {day for day, height in bars if float(height) > 0} == {day.isoformat() for day in per_day}
    for day, amount in per_day.items():
        assert f"<title>{day.isoformat()}: {money(amount)}</title>" in svg
    top = max(per_day.values())
    assert re.findall(r'class="p6-y"[^>]*>([^<]*)<', svg) == [money(0), money(quantize(top / 2, "USD")), money(top)]
    dates = re.findall(r'class="p6-x"[^>]*>([^<]*)<', svg)
    assert dates == [bars[i][0] for i in range(len(bars) - 1, -1, -7)][::-1]
    assert dates[-1] == timezone.now().date().isoformat() and len(dates) == 9


# --- the dashboard index's revenue ------------------------------------------------------------------------


def test_the_dashboard_index_revenue_counts_paid_orders_only(staff_client, paid_order, shirt):
    # given a paid order of 62.00 and an unpaid one of 25.00
    from oscar.core.loading import get_model

    Order = get_model("order", "Order")
    unpaid = support.place_order((shirt, 1))
    Order.objects.filter(pk=unpaid.pk).update(status="Pending payment")
    assert (paid_order.total_incl_tax, unpaid.total_incl_tax) == (D("62.00"), D("25.00"))
    # when staff open the dashboard
    response = staff_client.get(reverse("dashboard:index"))
    # then the revenue is the paid order's alone
    assert response.status_code == 200
    assert response.context["total_revenue"] == D("62.00")
    assert response.context["total_revenue_last_day"] == D("62.00")
    assert response.context["total_orders"] == 2  # the counts stay Oscar's
    assert money(D("62.00")) in response.content.decode() and money(D("87.00")) not in response.content.decode()


# --- progress on a terminal only ----------------------------------------------------------------------------


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("command, args, shown", [
    ("verify_ledger", (), "verify_ledger: checking, violations so far: 0"),
    ("export_ledger", ("--format", "csv"), "export_ledger: csv: "),
    ("simulate_sales", ("--orders", "2", "--restock"), "simulate_sales: orders: 2/2"),
])
def test_long_commands_show_progress_on_a_terminal_and_stay_quiet_when_piped(p6_catalogue, command, args, shown):
    load_sales(2)
    terminal, piped = FakeTTY(), io.StringIO()
    call_command(command, *args, stdout=io.StringIO(), stderr=terminal)
    assert shown in terminal.getvalue() and terminal.getvalue().startswith("\r") and terminal.getvalue().endswith(
        "\n")
    out = io.StringIO()
    call_command(command, *args, stdout=out, stderr=piped)
    assert piped.getvalue() == "" and "\r" not in out.getvalue()
