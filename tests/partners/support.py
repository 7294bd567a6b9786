"""Builders for the partner sales tests: CSV reports, and an independent recomputation of their donations."""

import csv
import datetime as dt
import io
import random
from decimal import Decimal as D
from fractions import Fraction

from django.utils import timezone

HEADER = ["line_id", "sold_on", "store", "country", "sku", "quantity", "unit_price", "currency", "unit_cost", "fee"]
STORES = [("Berlin Mitte", "DE", "EUR"), ("Paris Marais", "FR", "EUR"), ("Tokyo Harajuku", "JP", "JPY"),
          ("New York SoHo", "US", "USD"), ("Los Angeles", "US", "USD")]
PLACES = {"USD": 2, "EUR": 2, "JPY": 0}


def csv_bytes(rows, header=HEADER):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(name, "") for name in header] if isinstance(row, dict) else row)
    return out.getvalue().encode()


def row(line_id, sku, quantity, unit_price, currency, *, sold_on=None, store="Berlin Mitte", country="DE",
        unit_cost="", fee=""):
    return {"line_id": line_id, "sold_on": str(sold_on or timezone.localdate() - dt.timedelta(days=3)),
            "store": store, "country": country, "sku": sku, "quantity": str(quantity),
            "unit_price": unit_price, "currency": currency, "unit_cost": unit_cost, "fee": fee}


def _money(rng, low, high, currency):
    places = PLACES[currency]
    minor = rng.randint(low * 10 ** places, high * 10 ** places)
    return f"{D(minor).scaleb(-places):f}"


def generated_report(skus, *, count=500, seed=19):
    """``count`` lines over the last 300 days in USD, EUR and JPY, about one in eight a return of an SKU already sold
    in that currency (sometimes more than was sold), some with the catalogue's unit cost (USD), some with a fee."""
    rng = random.Random(seed)
    today = timezone.localdate()
    rows, sold = [], {}
    for n in range(1, count - 1):
        store, country, currency = rng.choice(STORES)
        sku = rng.choice(skus)
        day = today - dt.timedelta(days=rng.randint(0, 300))
        if sold.get((sku, currency)) and rng.random() < 0.125:
            quantity = -rng.randint(1, sold[(sku, currency)] + 1)
        else:
            quantity = rng.randint(1, 12)
            sold[(sku, currency)] = sold.get((sku, currency), 0) + quantity
        scale = 150 if currency == "JPY" else 1
        price = _money(rng, 8 * scale, 40 * scale, currency)
        cost = "" if currency == "USD" and rng.random() < 0.5 else _money(rng, 2 * scale, 30 * scale, currency)
        fee = _money(rng, 0, 3 * scale, currency) if rng.random() < 0.4 else ""
        rows.append(row(f"AA-{n:05d}", sku, quantity, price, currency, sold_on=day, store=store, country=country,
                        unit_cost=cost, fee=fee))
    # The last two lines return everything sold of two SKUs (more than was sold of one): all of it comes back.
    for n, ((sku, currency), quantity) in enumerate(sorted(sold.items())[:2], start=count - 1):
        rows.append(row(f"AA-{n:05d}", sku, -(quantity + n % 2), "1.00" if currency != "JPY" else "100", currency,
                        store="Los Angeles", country="US"))
    return rows


def half_up(value: Fraction) -> int:
    return (2 * value.numerator + value.denominator) // (2 * value.denominator)


def largest_remainder(total, weights):
    """``{key: int}`` splitting ``total`` by ``weights`` [(key, weight)], ties to the lower key."""
    whole = sum(w for _, w in weights)
    quotas = {k: Fraction(total * w, whole) for k, w in weights}
    parts = {k: int(q) for k, q in quotas.items()}
    for k in sorted(quotas, key=lambda k: (-(quotas[k] - parts[k]), k))[:total - sum(parts.values())]:
        parts[k] += 1
    return parts


def to_minor(amount, currency):
    return int(D(amount).scaleb(PLACES[currency]))
