"""How a fan chooses an apparel variant: sizes in size order, a swatch per colour, the size chart.

Defined once here: the product page (shop/variants.py, its template) reads them; the catalogue stores a
variant's size and colour as its `size` and `colour` attributes (catalog/p6_catalogue.py).
"""

from decimal import ROUND_HALF_UP, Decimal

SIZE_ORDER = ("XXS", "XS", "S", "M", "L", "XL", "XXL", "3XL")

#: The swatch shown for a colour (a colour the table does not know gets a neutral chip; its name is always shown).
SWATCHES = {"Black": "#111111", "White": "#ffffff", "Heather Grey": "#a9a9a6", "Navy": "#1f2a44"}
NEUTRAL_SWATCH = "#cccccc"

#: A standard unisex chart, garment measured flat: (size, chest width cm, body length cm).
SIZE_CHART_CM = (
    ("XS", 44, 69), ("S", 47, 71), ("M", 51, 74), ("L", 55, 76), ("XL", 59, 79), ("XXL", 63, 81), ("3XL", 67, 83),
)
CM_PER_INCH = Decimal("2.54")


def size_key(size):
    """Sort key: known sizes in size order, then any other size by name."""
    return (SIZE_ORDER.index(size), "") if size in SIZE_ORDER else (len(SIZE_ORDER), str(size))


def inches(cm):
    return (Decimal(cm) / CM_PER_INCH).quantize(Decimal("0.1"), ROUND_HALF_UP)


def size_chart(sizes):
    """Rows (size, chest cm, chest in, length cm, length in) for the ``sizes`` the chart knows, in size order."""
    wanted = set(sizes)
    return [(size, chest, inches(chest), length, inches(length))
            for size, chest, length in SIZE_CHART_CM if size in wanted]
