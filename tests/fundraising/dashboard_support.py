"""Shared helpers of the fundraising dashboard, public page and fan tests."""

import re

from django.contrib.auth.models import Permission
from django.core.management import call_command
from oscar.templatetags.currency_filters import currency as format_currency


class Sink:
    def write(self, *args, **kwargs):
        pass

    def flush(self):
        pass


def load_sales(orders, *, refund_rate=0.0, seed=6):
    """The P6 beneficiaries and rule, then ``orders`` simulated paid orders (the catalogue must be loaded)."""
    call_command("load_p6_fundraising", stdout=Sink())
    call_command("simulate_sales", orders=orders, refund_rate=refund_rate, seed=seed, restock=True, stdout=Sink())


def make_user(django_user_model, name, *, staff=False, perms=()):
    user = django_user_model.objects.create_user(
        username=name, email=f"{name}@example.org", password="x-pass-123456", is_staff=staff
    )
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def money(amount, code="USD"):
    return format_currency(amount, code)


def figure(html, beneficiary, name):
    """The text of ``data-figure=name`` in the row ``data-beneficiary=beneficiary``."""
    row = re.search(rf'data-beneficiary="{re.escape(beneficiary)}"(.*?)</tr>', html, re.S)
    assert row, f"no row for {beneficiary}"
    cell = re.search(rf'data-figure="{name}">([^<]*)<', row.group(1))
    assert cell, f"no {name} in the row of {beneficiary}"
    return cell.group(1).strip()


def entry_ids(html):
    return [int(pk) for pk in re.findall(r'data-entry="(\d+)"', html)]


def link(html, rel):
    found = re.search(rf'rel="{rel}" href="([^"]+)"', html)
    return found.group(1).replace("&amp;", "&") if found else None
