"""Reading a partner's sales report (CSV): every line checked, each refused one with its line number and reason.

Format (README, "Partner sales reports"): a header row, then one sale or return per row, UTF-8, comma-separated::

    line_id,sold_on,store,country,sku,quantity,unit_price,currency[,unit_cost][,fee]

``sold_on`` is an ISO date; ``quantity`` an integer, negative for a return; ``unit_price`` the price excluding tax
after the store's discounts, ``unit_cost`` (else the catalogue's for that SKU and currency, snapshotted at import)
and ``fee`` (the partner's costs for the line, default 0) in ``currency``, never finer than its minor unit. Text
cells starting like a spreadsheet formula (``= + - @``, tab, carriage return) are refused, not "cleaned". Reads only;
the posting is ``fundraising.services.partners``.
"""

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from decimal import Decimal

import pycountry
from django.utils import timezone
from oscar.core.loading import get_model

from catalog.models import UnitCost
from fundraising.models import ShareRule
from fundraising.money import AmountError, CurrencyError, normalise, parse_amount

StockRecord = get_model("partner", "StockRecord")

#: A report above this size is refused before anything is parsed.
MAX_BYTES = 5 * 1024 * 1024
REQUIRED = ("line_id", "sold_on", "store", "country", "sku", "quantity", "unit_price", "currency")
OPTIONAL = ("unit_cost", "fee")
TEXT_COLUMNS = ("line_id", "store", "country", "sku", "currency")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_QUANTITY = 1_000_000
_QUANTITY = re.compile(r"-?[0-9]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
LIMITS = {"line_id": 64, "store": 200, "sku": 128}


@dataclass(frozen=True)
class ReportLine:
    """One valid line of a report, as typed values (``unit_cost`` None: the catalogue has none, for a return)."""

    number: int
    line_id: str
    sold_on: dt.date
    store: str
    country: str
    sku: str
    quantity: int
    unit_price: Decimal
    currency: str
    unit_cost: Decimal
    unit_cost_given: bool
    fee: Decimal

    @property
    def is_return(self):
        return self.quantity < 0

    @property
    def revenue(self):
        return self.unit_price * abs(self.quantity)


@dataclass(frozen=True)
class Refusal:
    """A refused line (``number`` 0: the whole file) and why, in words staff can act on."""

    number: int
    reason: str
    line_id: str = ""

    def __str__(self):
        where = f"line {self.number}" if self.number else "file"
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class ParsedReport:
    lines: list
    refused: list


def campaign_start():
    """The first day of the campaign: the date the first share rule started (None: no rule yet)."""
    first = ShareRule.objects.order_by("valid_from").values_list("valid_from", flat=True).first()
    return timezone.localtime(first).date() if first else None


def read_report(data, *, today=None):
    """Check every line of the report ``data`` (bytes); return the valid lines and the refused ones, in file order.

    A file over ``MAX_BYTES``, not UTF-8, not a CSV, or without the required columns is refused whole (one refusal,
    line 0 or 1, no lines). Reads the catalogue (SKUs, unit costs) and the share rules (the campaign's first day).
    """
    if not isinstance(data, bytes):
        raise TypeError(f"a report is bytes, not {type(data).__name__}")
    if len(data) > MAX_BYTES:
        return ParsedReport([], [Refusal(0, f"the file is {len(data)} bytes, over the {MAX_BYTES} bytes limit")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return ParsedReport([], [Refusal(0, f"the file is not UTF-8 text (byte {error.start} cannot be decoded)")])
    if "\x00" in text:
        return ParsedReport([], [Refusal(0, "the file is not a CSV text file (it contains NUL bytes)")])
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as error:
        return ParsedReport([], [Refusal(1, f"not a CSV file: {error}")])
    if not header or not any(cell.strip() for cell in header):
        return ParsedReport([], [Refusal(0, "the file is empty: a header row and at least one line are needed")])
    columns = [cell.strip().lower() for cell in header]
    missing = [name for name in REQUIRED if name not in columns]
    unknown = [name for name in columns if name not in REQUIRED + OPTIONAL]
    duplicated = sorted({name for name in columns if columns.count(name) > 1})
    if missing or unknown or duplicated:
        problems = []
        if missing:
            problems.append("missing column(s) " + ", ".join(missing))
        if unknown:
            problems.append("unknown column(s) " + ", ".join(repr(name) for name in unknown))
        if duplicated:
            problems.append("repeated column(s) " + ", ".join(duplicated))
        return ParsedReport([], [Refusal(1, "; ".join(problems) + " (expected " + ", ".join(REQUIRED)
                                         + ", optionally " + ", ".join(OPTIONAL) + ")")])
    rows = []
    try:
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            rows.append((reader.line_num, cells))
    except csv.Error as error:
        return ParsedReport([], [Refusal(reader.line_num, f"not a CSV file: {error}")])
    if not rows:
        return ParsedReport([], [Refusal(0, "the report has no lines")])
    checker = _Checker(today=today or timezone.localdate(),
                       skus={cells[columns.index("sku")].strip() for _, cells in rows if len(cells) == len(columns)})
    lines, refused, seen = [], [], {}
    for number, cells in rows:
        if len(cells) != len(columns):
            refused.append(Refusal(number, f"{len(cells)} fields where the header has {len(columns)}"))
            continue
        row = {name: cell.strip() for name, cell in zip(columns, cells, strict=True)}
        try:
            line = checker.line(number, row)
        except _Refused as refusal:
            refused.append(Refusal(number, str(refusal), row.get("line_id", "")))
            continue
        if line.line_id in seen:
            refused.append(Refusal(number, f"line_id {line.line_id!r} already used on line {seen[line.line_id]}",
                                   line.line_id))
            continue
        seen[line.line_id] = number
        lines.append(line)
    return ParsedReport(lines, refused)


class _Refused(ValueError):
    pass


class _Checker:
    def __init__(self, *, today, skus):
        self.today = today
        self.start = campaign_start()
        self.known_skus = set(StockRecord.objects.filter(partner_sku__in=skus).values_list("partner_sku", flat=True))
        self.costs = {}
        for sku, currency, amount in UnitCost.objects.filter(stockrecord__partner_sku__in=skus).order_by(
            "stockrecord_id"
        ).values_list("stockrecord__partner_sku", "currency", "amount"):
            self.costs.setdefault((sku, currency.upper()), amount)

    def line(self, number, row):
        for name in TEXT_COLUMNS:
            if row[name].startswith(FORMULA_STARTS):
                raise _Refused(f"{name} {row[name][:20]!r} starts like a spreadsheet formula: refused")
            if name in LIMITS and len(row[name]) > LIMITS[name]:
                raise _Refused(f"{name} is longer than {LIMITS[name]} characters")
        for name in ("line_id", "store", "sku"):
            if not row[name]:
                raise _Refused(f"{name} is empty")
        sold_on = self._date(row["sold_on"])
        country = row["country"].upper()
        if len(country) != 2 or pycountry.countries.get(alpha_2=country) is None:
            raise _Refused(f"country {row['country']!r} is not an ISO 3166-1 two-letter code")
        if row["sku"] not in self.known_skus:
            raise _Refused(f"unknown SKU {row['sku']!r}: no such product in the catalogue")
        quantity = self._quantity(row["quantity"])
        try:
            currency = normalise(row["currency"])
        except CurrencyError:
            currency = None
        if currency is None or pycountry.currencies.get(alpha_3=currency) is None:
            raise _Refused(f"unknown currency {row['currency']!r}: not an ISO 4217 code")
        unit_price = self._amount("unit_price", row["unit_price"], currency)
        fee = self._amount("fee", row.get("fee") or "0", currency)
        given = bool(row.get("unit_cost"))
        if given:
            unit_cost = self._amount("unit_cost", row["unit_cost"], currency)
        else:
            unit_cost = self.costs.get((row["sku"], currency))
            if unit_cost is None:
                if quantity > 0:
                    raise _Refused(f"no unit cost for SKU {row['sku']} in {currency} in the catalogue: "
                                   "give it in the unit_cost column")
                unit_cost = Decimal(0)  # a return reverses what was posted; its cost plays no part
            else:
                try:
                    unit_cost = parse_amount(unit_cost, currency)
                except AmountError as error:
                    raise _Refused(f"the catalogue's unit cost of SKU {row['sku']} in {currency}: {error}") from None
        return ReportLine(
            number=number, line_id=row["line_id"], sold_on=sold_on, store=row["store"], country=country,
            sku=row["sku"], quantity=quantity, unit_price=unit_price, currency=currency, unit_cost=unit_cost,
            unit_cost_given=given, fee=fee,
        )

    def _date(self, text):
        try:
            if not _DATE.fullmatch(text):
                raise ValueError
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise _Refused(f"sold_on {text!r} is not a date written YYYY-MM-DD") from None
        if day > self.today:
            raise _Refused(f"sold_on {day} is in the future (today is {self.today})")
        if self.start is None:
            raise _Refused("no share rule was ever set: the campaign has not started")
        if day < self.start:
            raise _Refused(f"sold_on {day} is before the campaign started ({self.start})")
        return day

    def _quantity(self, text):
        if not _QUANTITY.fullmatch(text):
            raise _Refused(f"quantity {text!r} is not a whole number")
        quantity = int(text)
        if quantity == 0:
            raise _Refused("quantity is 0")
        if abs(quantity) > MAX_QUANTITY:
            raise _Refused(f"quantity {quantity} is beyond {MAX_QUANTITY}")
        return quantity

    def _amount(self, name, text, currency):
        try:
            return parse_amount(text, currency)
        except AmountError as error:
            raise _Refused(f"{name} {text!r}: {error}") from None
