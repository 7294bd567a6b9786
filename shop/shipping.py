"""Shipping by destination zone and basket weight, and the default shipping country.

The rates are Oscar's own: weight-based methods (`shipping.WeightBased`, with `WeightBand` rows and the countries
of their zone), which staff edit in the dashboard under Fulfilment > Shipping charges. `load_p6_catalogue` seeds
the zones (US; EU + UK; Russia and the rest of the world). A basket weighs its products' weights in kg
(catalog/p6_catalogue.py WEIGHTS, by the parent's or standalone product's UPC; anything else weighs the method's
default weight): not Oscar's `weight` product attribute, which Oscar would list in every variant's summary.
`Repository` (OVERRIDES in shop/loading.py) offers the methods whose countries include the shipping address's
country; a method with no countries serves every country no other method names (the "rest of the world").
A basket whose total (excl. tax, after discounts) reaches `SHOP_FREE_SHIPPING_OVER` ships free.
When no weight-based method exists at all (a shop not seeded, most tests), shipping is free as before.

Tax: the shop runs in "prices include all taxes" mode (shop/partner/strategy.py, NoTax): a price is what the
fan pays wherever the parcel goes, and shipping is charged as shown. So revenue excl. tax is the line price and
the profit rule (DESIGN) needs nothing else; shipping is pass-through (fundraising/fees.py).
"""

from decimal import Decimal

from django.conf import settings
from django.utils import translation
from oscar.apps.checkout import forms as checkout_forms
from oscar.apps.shipping import repository
from oscar.core import prices
from oscar.core.loading import get_model

from catalog import p6_catalogue

WeightBased = get_model("shipping", "WeightBased")
Country = get_model("address", "Country")

# The fan's language when it names a country the shop ships to (English names none: the configured default).
LANGUAGE_COUNTRY = {"fr": "FR", "ru": "RU"}


def free_shipping_over():
    """SHOP_FREE_SHIPPING_OVER as a Decimal (from its text), or None when unset/empty (never free by total)."""
    value = getattr(settings, "SHOP_FREE_SHIPPING_OVER", "")
    return Decimal(str(value)) if str(value).strip() else None


def basket_weight(basket, *, default_weight):
    """The basket's weight in kg: each line's product weight (its parent's for a variant) × quantity."""
    total = Decimal("0")
    for line in basket.all_lines():
        product = line.product
        upc = product.parent.upc if product.parent_id else product.upc
        weight = p6_catalogue.WEIGHTS.get(upc)
        total += (Decimal(weight) if weight is not None else Decimal(default_weight)) * line.quantity
    return total


class ZoneMethod:
    """A weight-based method (a model row, staff's rates read at each call) weighing baskets by
    `basket_weight`, named in the fan's language; everything else (code, bands, get_charge) is the row's."""

    def __init__(self, method):
        self.method = method

    def __getattr__(self, name):
        return getattr(self.method, name)

    @property
    def name(self):
        # A seeded zone's name is translated in locale/ (catalog/p6_catalogue.py marks it); a name staff typed
        # in the dashboard shows as typed.
        return translation.gettext(self.method.name)

    def calculate(self, basket):
        charge = self.method.get_charge(basket_weight(basket, default_weight=self.method.default_weight))
        return prices.Price(currency=basket.currency, excl_tax=charge, incl_tax=charge)


class Repository(repository.Repository):
    def get_available_shipping_methods(self, basket, shipping_addr=None, **kwargs):
        methods = list(WeightBased.objects.prefetch_related("countries", "bands").order_by("name"))
        if not methods:
            return [repository.Free()]
        threshold = free_shipping_over()
        if threshold is not None and basket.total_excl_tax >= threshold:
            return [repository.Free()]
        country = getattr(shipping_addr, "country", None)
        code = getattr(country, "iso_3166_1_a2", None) or default_country_code()
        zone = [m for m in methods if any(c.iso_3166_1_a2 == code for c in m.countries.all())]
        zone = zone or [m for m in methods if not m.countries.all()]
        return [ZoneMethod(m) for m in zone] or [repository.Free()]


def default_country_code():
    """The country a new shipping address starts with: the fan's language's (fr -> FR, ru -> RU), else
    SHOP_DEFAULT_COUNTRY."""
    language = (translation.get_language() or "").split("-")[0]
    return LANGUAGE_COUNTRY.get(language) or settings.SHOP_DEFAULT_COUNTRY


class ShippingAddressForm(checkout_forms.ShippingAddressForm):
    """Oscar's form, with the country preselected by `default_country_code` instead of the first shipping
    country in alphabetical order (Canada)."""

    def adjust_country_field(self):
        super().adjust_country_field()
        field = self.fields.get("country")
        if field is None or self.is_bound or self.initial.get("country"):
            return
        country = field.queryset.filter(iso_3166_1_a2=default_country_code()).first()
        if country is None:
            country = field.queryset.filter(iso_3166_1_a2=settings.SHOP_DEFAULT_COUNTRY).first()
        if country is not None:
            self.initial["country"] = country.pk
