"""Recipients kept safe (issue 17, item 5): each group has a public visibility, named, aliased ("Group A") or
aggregated (only in the totals), and every public page and feed respects it; staff see real names."""

import json
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from fundraising import selectors, services
from fundraising.models import Beneficiary
from tests.fundraising.dashboard_support import load_sales

pytestmark = pytest.mark.django_db

REAL = {"russian-lgbt-network": "Russian LGBT Network", "coming-out-st-petersburg": "Coming Out St. Petersburg",
        "sphere-foundation": "Sphere Foundation"}


@pytest.fixture
def sales(p6_catalogue):
    load_sales(8, refund_rate=0.3)
    services.record_disbursement(beneficiary=Beneficiary.objects.get(slug="sphere-foundation"), amount=D("5.00"),
                                 currency="USD", paid_on=timezone.now().date(), reference="wire-7")


def public_bodies(client):
    """Every public response that speaks of the fundraising, as text."""
    urls = [reverse("fundraising:transparency"), reverse("fundraising:totals-json"), reverse("p6-api-totals"),
            "/", reverse("about-p6"), reverse("catalogue:index")]
    bodies = {}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        bodies[url] = response.content.decode()
    return bodies


def test_the_demo_groups_are_aliased_everywhere_public(client, sales):
    bodies = public_bodies(client)
    for url, body in bodies.items():
        for slug, name in REAL.items():
            assert name not in body, (url, name)
            assert slug not in body, (url, slug)
        assert "wire-7" not in body
    data = json.loads(bodies[reverse("fundraising:totals-json")])
    [usd] = data["currencies"]
    assert [(b["slug"], b["name"]) for b in usd["beneficiaries"]] == [
        ("group-a", "Group A"), ("group-b", "Group B"), ("group-c", "Group C")]
    balances = {row.beneficiary.public_name: row for row in selectors.beneficiary_balances(currency="USD")}
    for item in usd["beneficiaries"]:
        assert D(item["net_raised"]) == balances[item["name"]].earned - balances[item["name"]].reversed
    assert "Group A" in bodies[reverse("fundraising:transparency")]


def test_an_aggregated_group_counts_in_the_totals_and_is_listed_nowhere(client, sales):
    Beneficiary.objects.filter(slug="sphere-foundation").update(visibility="aggregated", public_name="")
    bodies = public_bodies(client)
    for body in bodies.values():
        assert "Sphere Foundation" not in body and "sphere-foundation" not in body and "Group C" not in body
    [usd] = json.loads(bodies[reverse("fundraising:totals-json")])["currencies"]
    assert [b["name"] for b in usd["beneficiaries"]] == ["Group A", "Group B"]
    sphere = next(row for row in selectors.beneficiary_balances(currency="USD")
                  if row.beneficiary.slug == "sphere-foundation")
    assert sphere.earned > 0
    # the totals still include it: raised = the listed groups' + its own
    assert D(usd["raised"]) == sum(D(b["raised"]) for b in usd["beneficiaries"]) + sphere.earned
    assert D(usd["disbursed"]) == D("5.00")  # its payout, in the total only


def test_a_named_group_is_published_by_its_real_name(client, sales):
    Beneficiary.objects.filter(slug="russian-lgbt-network").update(visibility="named")
    [usd] = json.loads(client.get(reverse("fundraising:totals-json")).content)["currencies"]
    assert [(b["slug"], b["name"]) for b in usd["beneficiaries"]] == [
        ("group-b", "Group B"), ("group-c", "Group C"), ("russian-lgbt-network", "Russian LGBT Network")]
    html = client.get(reverse("fundraising:transparency")).content.decode()
    assert "Russian LGBT Network" in html and "Sphere Foundation" not in html


def test_staff_see_real_names(staff_client, sales):
    html = staff_client.get(reverse("fundraising-dashboard:beneficiary-list")).content.decode()
    for name in REAL.values():
        assert name in html


def test_a_new_group_is_only_in_the_totals_until_staff_choose(db):
    group = Beneficiary.objects.create(name="New Group", slug="new-group", country="RU")
    assert (group.visibility, group.public_label, group.public_key) == ("aggregated", None, None)


@pytest.mark.parametrize("fields, message", [
    ({"visibility": "aliased", "public_name": ""}, "An aliased group needs a public name."),
    ({"visibility": "aliased", "public_name": "  "}, "An aliased group needs a public name."),
    ({"visibility": "aliased", "public_name": "secret group"}, "The public name must not be the group's real name."),
])
def test_an_alias_must_exist_and_must_not_be_the_real_name(db, fields, message):
    group = Beneficiary(name="Secret Group", slug="secret-group", country="RU", **fields)
    with pytest.raises(ValidationError) as refused:
        group.full_clean()
    assert refused.value.message_dict["public_name"] == [message]


def test_the_database_refuses_an_aliased_group_without_alias_and_a_shared_alias(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        Beneficiary.objects.create(name="A", slug="a", country="RU", visibility="aliased", public_name="")
    Beneficiary.objects.create(name="B", slug="b", country="RU", visibility="aliased", public_name="Group Z")
    with pytest.raises(IntegrityError), transaction.atomic():
        Beneficiary.objects.create(name="C", slug="c", country="RU", visibility="aliased", public_name="Group Z")
    # two groups without a public name are fine (aggregated)
    Beneficiary.objects.create(name="D", slug="d", country="RU")
    Beneficiary.objects.create(name="E", slug="e", country="RU")
    assert Beneficiary.objects.count() == 3


def test_the_migration_aliases_the_groups_published_before(db):
    from django.apps import apps

    migration = __import__("fundraising.migrations.0006_beneficiary_visibility", fromlist=["alias_existing"])
    for i in range(28):
        Beneficiary.objects.create(name=f"Real {i}", slug=f"real-{i}", country="RU", visibility="named")
    migration.alias_existing(apps, None)
    aliases = list(Beneficiary.objects.order_by("pk").values_list("visibility", "public_name"))
    assert aliases[:3] == [("aliased", "Group A"), ("aliased", "Group B"), ("aliased", "Group C")]
    assert aliases[25:] == [("aliased", "Group Z"), ("aliased", "Group AA"), ("aliased", "Group AB")]


def test_staff_set_a_groups_visibility_and_public_name_in_the_dashboard(staff_client, client, sales):
    group = Beneficiary.objects.get(slug="coming-out-st-petersburg")
    url = reverse("fundraising-dashboard:beneficiary-edit", kwargs={"pk": group.pk})
    form = staff_client.get(url).content.decode()
    assert 'name="visibility"' in form and 'name="public_name"' in form and "Group B" in form
    base = {"name": group.name, "slug": group.slug, "description": group.description, "country": "RU",
            "active": "on", "default_weight": 1}
    # refused: aliased without a public name, and a public name that is the real name; nothing saved
    refusals = (("", "An aliased group needs a public name."),
                ("Coming Out St. Petersburg", "The public name must not be the group&#x27;s real name."))
    for public_name, message in refusals:
        response = staff_client.post(url, {**base, "visibility": "aliased", "public_name": public_name})
        assert response.status_code == 200 and message in response.content.decode()
        group.refresh_from_db()
        assert (group.visibility, group.public_name) == ("aliased", "Group B")
    # saved: renamed alias, seen at once in the public totals
    response = staff_client.post(url, {**base, "visibility": "aliased", "public_name": "Group North"})
    assert response.status_code == 302
    [usd] = json.loads(client.get(reverse("fundraising:totals-json")).content)["currencies"]
    assert [b["name"] for b in usd["beneficiaries"]] == ["Group A", "Group C", "Group North"]
    listing = staff_client.get(reverse("fundraising-dashboard:beneficiary-list")).content.decode()
    assert 'data-visibility="aliased"' in listing and "Group North" in listing and group.name in listing
