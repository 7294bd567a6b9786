"""Staff run the shop in Oscar's dashboard; unit costs are editable there (issue #2)."""

from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.models import UnitCost

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/dashboard/", "/dashboard/catalogue/", "/dashboard/unit-costs/"])
def test_dashboard_sends_anonymous_users_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("dashboard:login"))


@pytest.mark.parametrize(
    "url", ["/dashboard/", "/dashboard/catalogue/", "/dashboard/orders/", "/dashboard/unit-costs/"]
)
def test_dashboard_serves_staff(staff_client, p6_catalogue, url):
    response = staff_client.get(url)
    assert response.status_code == 200


def test_dashboard_refuses_a_customer(client, django_user_model, db):
    customer = django_user_model.objects.create_user(username="fan", email="fan@example.org", password="x-pass-123")
    client.force_login(customer)
    # when a logged-in customer (not staff) opens a dashboard page
    response = client.get("/dashboard/unit-costs/")
    # then Oscar refuses: logged in but not allowed
    assert response.status_code == 403


def test_unit_cost_list_shows_price_cost_and_margin(staff_client, p6_catalogue):
    response = staff_client.get("/dashboard/unit-costs/?q=P6-TOTE")
    content = response.content.decode()
    assert "P6-TOTE" in content and "$20.00" in content and "$6.00" in content and "$14.00" in content
    assert "P6-PIN" not in content


def test_staff_edit_a_unit_cost(staff_client, p6_catalogue):
    record = p6_catalogue.get(partner_sku="P6-PIN")
    url = reverse("catalog-dashboard:unit-cost-edit", kwargs={"stockrecord_pk": record.pk})
    response = staff_client.post(url, {"amount": "2.05"})
    assert response.status_code == 302
    assert UnitCost.objects.get(stockrecord=record).amount == Decimal("2.05")


def test_a_negative_unit_cost_is_refused_and_nothing_changes(staff_client, p6_catalogue):
    record = p6_catalogue.get(partner_sku="P6-PIN")
    url = reverse("catalog-dashboard:unit-cost-edit", kwargs={"stockrecord_pk": record.pk})
    response = staff_client.post(url, {"amount": "-1"})
    assert response.status_code == 200
    assert response.context["form"].errors["amount"]
    assert UnitCost.objects.get(stockrecord=record).amount == Decimal("1.75")
