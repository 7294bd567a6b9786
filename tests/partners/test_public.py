"""The public totals split by where the sale was made: raised online and raised in stores, per currency; and the
per-store figures, published only when staff choose to, partner by partner (issue 19)."""

import re
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import translation

from fundraising import services
from fundraising.models import Partner
from fundraising.public import transparency_totals
from fundraising.services.partners import import_partner_report, set_store_publication
from tests.fundraising.dashboard_support import make_user, money
from tests.fundraising.support import make_stockrecord, pay, place_order
from tests.partners.support import csv_bytes, row

VIEW = "fundraising.view_ledger"
WRITE = "fundraising.record_disbursement"
PAGE = reverse("fundraising-dashboard:partner-import")
STORES = ("New York SoHo", "Los Angeles", "Berlin Mitte")


@pytest.fixture
def sales(partner, rules, skus):
    """Today's rule: 60 % of the profit, split 2:1:1.

    Online (USD): 2 × 30.00 (unit cost 10.00, fee 2.10): profit 37.90, donation 22.74; half refunded: 11.37 back.
    Stores (USD): New York SoHo 4 × P6-TEE at 25.00 (catalogue cost 10.00): profit 60.00, donation 36.00, then 1
    returned: 9.00 back; Los Angeles 3 × P6-PIN at 6.00 (cost 1.25): profit 14.25, donation 8.55.
    Stores (EUR): Berlin Mitte 2 × P6-HOODIE at 40.00 (reported cost 15.00): profit 50.00, donation 30.00.
    """
    order = place_order((make_stockrecord("30.00", cost="10.00"), 2))
    pay(order, fee=D("2.10"))
    services.post_reversal(order=order, key="refund:re_half", kind="refund", amount=D("30.00"))
    result = import_partner_report(partner=partner, file_name="week.csv", data=csv_bytes([
        row("AA-1", "P6-TEE", 4, "25.00", "USD", store="New York SoHo", country="US"),
        row("AA-2", "P6-PIN", 3, "6.00", "USD", store="Los Angeles", country="US"),
        row("AA-3", "P6-HOODIE", 2, "40.00", "EUR", store="Berlin Mitte", country="DE", unit_cost="15.00"),
        row("AA-4", "P6-TEE", -1, "25.00", "USD", store="New York SoHo", country="US"),
    ]))
    assert result.posted and not result.refused
    return order


EXPECTED = {
    "USD": {
        "raised": D("67.29"), "reversed": D("20.37"), "net_raised": D("46.92"), "items_sold": 2,
        "sources": {
            "online": {"raised": D("22.74"), "reversed": D("11.37"), "net_raised": D("11.37"), "items_sold": 2},
            "stores": {"raised": D("44.55"), "reversed": D("9.00"), "net_raised": D("35.55"), "items_sold": 7,
                       "items_returned": 1},
        },
    },
    "EUR": {
        "raised": D("30.00"), "reversed": D("0.00"), "net_raised": D("30.00"), "items_sold": 0,
        "sources": {
            "online": {"raised": D("0.00"), "reversed": D("0.00"), "net_raised": D("0.00"), "items_sold": 0},
            "stores": {"raised": D("30.00"), "reversed": D("0.00"), "net_raised": D("30.00"), "items_sold": 2,
                       "items_returned": 0},
        },
    },
}

PUBLISHED = {
    "USD": [
        {"partner": "American Apparel", "store": "Los Angeles", "country": "US", "raised": D("8.55"),
         "reversed": D("0.00"), "net_raised": D("8.55"), "items_sold": 3, "items_returned": 0},
        {"partner": "American Apparel", "store": "New York SoHo", "country": "US", "raised": D("36.00"),
         "reversed": D("9.00"), "net_raised": D("27.00"), "items_sold": 4, "items_returned": 1},
    ],
    "EUR": [
        {"partner": "American Apparel", "store": "Berlin Mitte", "country": "DE", "raised": D("30.00"),
         "reversed": D("0.00"), "net_raised": D("30.00"), "items_sold": 2, "items_returned": 0},
    ],
}


def _as_text(value):
    if isinstance(value, dict):
        return {key: _as_text(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_as_text(inner) for inner in value]
    return format(value, "f") if isinstance(value, D) else value


def _sections(totals):
    return {section["currency"]: section for section in totals["currencies"]}


def _section_html(html, currency):
    return html.split(f'id="totals-{currency}"')[1].split("</section>")[0]


def _figure(section, name):
    found = re.search(rf'data-figure="{name}">([^<]*)<', section)
    return found.group(1).strip() if found else None


def _store_row(section, store):
    found = re.search(rf'<tr data-store="{re.escape(store)}"(.*?)</tr>', section, re.S)
    assert found, f"no row for {store}"
    return {name: _figure(found.group(1), name) for name in ("net_raised", "items_sold", "items_returned")}


def _treasurer(client, django_user_model, name="treasurer"):
    client.force_login(make_user(django_user_model, name, staff=True, perms=[VIEW, WRITE]))
    return client


def test_the_totals_split_what_was_raised_online_and_in_stores_per_currency(sales):
    sections = _sections(transparency_totals())

    assert list(sections) == ["EUR", "USD"]
    for currency, expected in EXPECTED.items():
        section = sections[currency]
        assert {key: section[key] for key in expected} == expected, currency
        # the two sources add up to the totals
        online, stores = section["sources"]["online"], section["sources"]["stores"]
        for name in ("raised", "reversed", "net_raised"):
            assert online[name] + stores[name] == section[name]
        assert section["has_store_sales"] is True
        # nothing published yet: no store is read into the public figures
        assert section["published_stores"] == []


def test_the_json_has_the_split_and_names_no_store_until_staff_publish(client, sales):
    response = client.get(reverse("fundraising:totals-json"))
    body = response.content.decode()
    data = response.json()

    assert data["schema"] == "p6-fundraising-totals/1"
    sections = _sections(data)
    for currency, expected in EXPECTED.items():
        assert {key: sections[currency][key] for key in expected} == _as_text(expected)
        assert sections[currency]["published_stores"] == []
    for store in STORES:
        assert store not in body
    # the existing keys are all still there, unchanged in kind
    assert {"currency", "raised", "reversed", "net_raised", "disbursed", "payable", "items_sold", "goal",
            "goal_progress_percent", "beneficiaries", "sources", "published_stores"} == set(sections["USD"])


def test_the_page_shows_the_split_and_no_store_until_staff_publish(client, sales):
    html = client.get(reverse("fundraising:transparency")).content.decode()

    usd, eur = _section_html(html, "USD"), _section_html(html, "EUR")
    assert _figure(usd, "net_raised") == money(D("46.92"), "USD")
    assert _figure(usd, "net_raised_online") == money(D("11.37"), "USD")
    assert _figure(usd, "net_raised_in_stores") == money(D("35.55"), "USD")
    assert _figure(usd, "items_sold") == "2"
    assert _figure(usd, "items_sold_in_stores") == "7"
    text = " ".join(usd.split())
    assert f"{money(D('22.74'), 'USD')} given, {money(D('11.37'), 'USD')} reversed by refunds)" in text
    assert f"{money(D('44.55'), 'USD')} given, {money(D('9.00'), 'USD')} reversed by returns)" in text
    assert f"{money(D('67.29'), 'USD')} given, {money(D('20.37'), 'USD')} reversed by refunds and returns" in text
    assert "1 returned" in text
    assert _figure(eur, "net_raised_online") == money(D("0.00"), "EUR")
    assert _figure(eur, "net_raised_in_stores") == money(D("30.00"), "EUR")
    assert _figure(eur, "items_sold_in_stores") == "2"
    for store in STORES:
        assert store not in html
    assert "data-store=" not in html


def test_no_store_name_is_in_the_public_ledger_either(client, sales):
    pages = [client.get(reverse("fundraising:ledger-json")).content.decode(),
             client.get(reverse("fundraising:ledger")).content.decode()]
    for body in pages:
        for store in STORES:
            assert store not in body


def test_without_store_sales_the_page_shows_no_split(client, rules):
    pay(place_order((make_stockrecord("30.00", cost="10.00"), 2)), fee=D("2.10"))

    html = client.get(reverse("fundraising:transparency")).content.decode()
    [usd] = transparency_totals()["currencies"]

    assert usd["has_store_sales"] is False
    assert usd["sources"]["stores"] == {"raised": D("0.00"), "reversed": D("0.00"), "net_raised": D("0.00"),
                                        "items_sold": 0, "items_returned": 0}
    assert usd["sources"]["online"]["raised"] == usd["raised"] == D("22.74")
    assert "net_raised_in_stores" not in html and "net_raised_online" not in html
    assert _figure(_section_html(html, "USD"), "items_sold") == "2"


def test_an_import_shows_on_the_public_page_at_once(client, partner, rules, skus):
    # the page is not kept in the page cache (shop/pagecache): every request reads the ledger
    before = client.get(reverse("fundraising:transparency")).content.decode()
    assert "net_raised_in_stores" not in before
    import_partner_report(partner=partner, file_name="day.csv", data=csv_bytes([
        row("AA-9", "P6-TEE", 1, "25.00", "USD", store="New York SoHo", country="US")]))

    after = client.get(reverse("fundraising:transparency")).content.decode()
    assert _figure(_section_html(after, "USD"), "net_raised_in_stores") == money(D("9.00"), "USD")
    json = client.get(reverse("fundraising:totals-json"))
    assert json.json()["currencies"][0]["sources"]["stores"]["net_raised"] == "9.00"
    assert json["Cache-Control"] in ("public, max-age=60", "max-age=60, public")


def test_staff_publish_a_partners_stores_from_the_dashboard(client, django_user_model, sales, partner):
    treasurer = _treasurer(client, django_user_model)
    form = treasurer.get(PAGE).content.decode()
    assert 'id="publish-american-apparel"' in form and "Publish per-store figures on the public page" in form

    response = treasurer.post(PAGE, {"step": "publish", "partner": partner.pk, "publish": "on"}, follow=True)

    assert response.redirect_chain == [(PAGE, 302)]
    assert "American Apparel&#x27;s per-store figures are now on the public page." in response.content.decode()
    partner.refresh_from_db()
    assert partner.publish_stores is True
    # the JSON lists every store's figures, exactly
    data = treasurer.get(reverse("fundraising:totals-json")).json()
    sections = _sections(data)
    for currency, stores in PUBLISHED.items():
        assert sections[currency]["published_stores"] == _as_text(stores)
        net = sum(D(store["net_raised"]) for store in sections[currency]["published_stores"])
        assert net == D(sections[currency]["sources"]["stores"]["net_raised"])
    # and so does the page
    html = treasurer.get(reverse("fundraising:transparency")).content.decode()
    usd, eur = _section_html(html, "USD"), _section_html(html, "EUR")
    assert _store_row(usd, "New York SoHo") == {"net_raised": money(D("27.00"), "USD"), "items_sold": "4",
                                                "items_returned": "1"}
    assert _store_row(usd, "Los Angeles") == {"net_raised": money(D("8.55"), "USD"), "items_sold": "3",
                                              "items_returned": "0"}
    assert _store_row(eur, "Berlin Mitte") == {"net_raised": money(D("30.00"), "EUR"), "items_sold": "2",
                                               "items_returned": "0"}
    assert "Berlin Mitte" not in usd and "New York SoHo" not in eur

    # unpublishing (the box unticked) takes every store name off again
    response = treasurer.post(PAGE, {"step": "publish", "partner": partner.pk}, follow=True)
    assert "no longer on the public page" in response.content.decode()
    partner.refresh_from_db()
    assert partner.publish_stores is False
    public = (treasurer.get(reverse("fundraising:transparency")).content.decode()
              + treasurer.get(reverse("fundraising:totals-json")).content.decode())
    for store in STORES:
        assert store not in public


def test_only_the_published_partners_stores_are_listed(sales, partner, skus):
    other = Partner.objects.create(name="Other Shop", slug="other-shop")
    import_partner_report(partner=other, file_name="other.csv", data=csv_bytes([
        row("OS-1", "P6-TEE", 1, "25.00", "USD", store="Secret Corner", country="US")]))
    set_store_publication(partner=partner, publish=True)

    [usd] = [s for s in transparency_totals()["currencies"] if s["currency"] == "USD"]

    assert [store["store"] for store in usd["published_stores"]] == ["Los Angeles", "New York SoHo"]
    assert usd["sources"]["stores"]["net_raised"] == D("44.55")  # 35.55 + Other Shop's 9.00, unnamed
    assert set_store_publication(partner=partner, publish=True) is False  # nothing changed


@pytest.mark.parametrize("who, perms, staff", [
    ("anonymous", None, False),
    ("customer", (), False),
    ("staff", (), True),
    ("reader", (VIEW,), True),
    ("customer-with-perms", (VIEW, WRITE), False),
])
def test_publishing_needs_a_staff_user_with_the_write_permission(client, django_user_model, sales, partner,
                                                                   who, perms, staff):
    if perms is not None:
        client.force_login(make_user(django_user_model, who, staff=staff, perms=perms))

    response = client.post(PAGE, {"step": "publish", "partner": partner.pk, "publish": "on"})

    if who == "anonymous":
        assert response.status_code == 302 and response["Location"].startswith(reverse("dashboard:login"))
    else:
        assert response.status_code == 403
    partner.refresh_from_db()
    assert partner.publish_stores is False
    assert "New York SoHo" not in client.get(reverse("fundraising:totals-json")).content.decode()


def test_publishing_is_post_only_and_needs_the_csrf_token(django_user_model, sales, partner):
    from django.test import Client

    strict = _treasurer(Client(enforce_csrf_checks=True), django_user_model)
    assert strict.post(PAGE, {"step": "publish", "partner": partner.pk, "publish": "on"}).status_code == 403
    strict.get(PAGE + "?step=publish&publish=on&partner=%d" % partner.pk)
    partner.refresh_from_db()
    assert partner.publish_stores is False


def test_an_unknown_partner_changes_nothing(client, django_user_model, sales, partner):
    treasurer = _treasurer(client, django_user_model)
    response = treasurer.post(PAGE, {"step": "publish", "partner": "999999", "publish": "on"}, follow=True)
    assert "Unknown partner: nothing changed." in response.content.decode()
    assert not Partner.objects.filter(publish_stores=True).exists()


@pytest.mark.parametrize("lang, words", [
    ("fr", ["Collecté en ligne", "Collecté en magasin", "Articles vendus en magasin", "Magasin",
            "Collecté dans les magasins de nos partenaires"]),
    ("ru", ["Собрано онлайн", "Собрано в магазинах", "Продано товаров в магазинах", "Магазин",
            "Собрано в магазинах наших партнёров"]),
])
def test_the_split_speaks_the_fans_language(client, sales, partner, lang, words):
    set_store_publication(partner=partner, publish=True)
    with translation.override(lang):
        html = client.get(reverse("fundraising:transparency"), HTTP_ACCEPT_LANGUAGE=lang).content.decode()
    for word in words:
        assert word in html
