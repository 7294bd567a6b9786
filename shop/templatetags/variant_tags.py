"""The product page's colour-and-size choice (shop/variants.py): what its template shows of each variant."""

from django import template

from catalog.variants import NEUTRAL_SWATCH, SWATCHES, size_chart
from fundraising import estimates
from fundraising.selectors import rule_in_force

register = template.Library()


@register.simple_tag
def variant_choice(form):
    """The colours, sizes, variants (each with its one-item donation estimate) and size chart of ``form``, an
    AddToBasketForm of a parent product whose variants are chosen by colour and size; or None."""
    if not getattr(form, "by_colour_and_size", False):
        return None
    variants = form.variants
    records = [v.stockrecord for v in variants if v.stockrecord is not None and v.price is not None]
    figures = estimates.stock_record_estimates(records, rule=rule_in_force())
    chosen_colour, chosen_size = form["colour"].value(), form["size"].value()
    return {
        "colours": [
            {"name": colour, "label": form.colour_labels[colour], "swatch": SWATCHES.get(colour, NEUTRAL_SWATCH),
             "checked": colour == chosen_colour,
             "sold_out": not any(v.available for v in variants if v.colour == colour)}
            for colour in form.colours
        ],
        "sizes": [
            {"name": size, "selected": size == chosen_size,
             "sold_out": not any(v.available for v in variants if v.size == size)}
            for size in form.sizes
        ],
        "variants": [
            {"variant": v, "donation": figures.get(v.stockrecord.pk) if v.stockrecord is not None else None}
            for v in variants
        ],
        "sold_out": [v for v in variants if not v.available],
        "chart": size_chart(form.sizes),
    }
