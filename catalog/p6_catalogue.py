"""The P6 catalogue as data: what `load_p6_catalogue` creates.

Prices and unit costs are strings (Decimal from strings, never floats), in the shop currency. Unit costs
are American Apparel's blank plus printing per unit; the margin between price and cost is the profit a
share of which is donated. SKUs are stable: P6-<product>-<colour>-<size>.
"""

from django.utils.translation import gettext_noop as _

PARTNER = "American Apparel"

PRINCIPLE_6 = (
    "<p><strong>Principle 6</strong> of the Olympic Charter reads: <em>“The enjoyment of the rights and freedoms "
    "set forth in this Olympic Charter shall be secured without discrimination of any kind, such as race, colour, "
    "sex, sexual orientation, language, religion, political or other opinion, national or social origin, property, "
    "birth or other status.”</em></p>"
    "<p>In 2014, ahead of the Sochi Winter Olympics and Russia's law against “gay propaganda”, athletes and fans wore "
    "the Olympic Charter's own words: the P6 campaign let anyone protest discrimination without breaking the "
    "Olympic rules against political statements. The apparel is made by American Apparel; a share of the profit "
    "on every item goes to Russian LGBT groups, and this shop shows exactly how much.</p>"
)

CATEGORIES = [
    # (path of names, description)
    (("Apparel",), "Shirts, hoodies and tanks printed with the Principle 6 text."),
    (("Apparel", "T-shirts"), "P6 T-shirts."),
    (("Apparel", "Hoodies"), "P6 hoodies."),
    (("Apparel", "Tank tops"), "P6 tank tops."),
    (("Accessories",), "Bags and pins that carry Principle 6."),
]

PRODUCT_CLASSES = {
    "apparel": {"name": "Apparel", "requires_shipping": True, "track_stock": True,
                "attributes": [("size", "Size"), ("colour", "Colour")]},
    "accessory": {"name": "Accessory", "requires_shipping": True, "track_stock": True, "attributes": []},
}

SIZES_XS_XXL = ["XS", "S", "M", "L", "XL", "XXL"]
SIZES_S_XXL = ["S", "M", "L", "XL", "XXL"]
SIZES_XS_XL = ["XS", "S", "M", "L", "XL"]

PRODUCTS = [
    {
        "code": "TEE",
        "upc": "P6-TEE",
        "title": "P6 Unisex T-shirt",
        "class": "apparel",
        "category": ("Apparel", "T-shirts"),
        "image": "p6-tee.png",
        "summary": "Fine jersey crew-neck tee with the full text of Principle 6 on the chest.",
        "colours": [("BLK", "Black"), ("WHT", "White"), ("HGR", "Heather Grey")],
        "sizes": SIZES_XS_XXL,
        "price": "30.00",
        "unit_cost": "11.50",
        # Bigger sizes use more fabric: same margin policy as the shop's printed price list.
        "size_price": {"XXL": "32.00"},
        "size_cost": {"XXL": "12.75"},
        "stock": 40,
    },
    {
        "code": "HOOD",
        "upc": "P6-HOOD",
        "title": "P6 Hoodie",
        "class": "apparel",
        "category": ("Apparel", "Hoodies"),
        "image": "p6-hoodie.png",
        "summary": "Heavy fleece zip hoodie, “P6” on the front, Principle 6 across the back.",
        "colours": [("BLK", "Black"), ("NVY", "Navy")],
        "sizes": SIZES_S_XXL,
        "price": "58.00",
        "unit_cost": "24.00",
        "size_price": {"XXL": "61.00"},
        "size_cost": {"XXL": "25.50"},
        "stock": 25,
    },
    {
        "code": "TANK",
        "upc": "P6-TANK",
        "title": "P6 Tank Top",
        "class": "apparel",
        "category": ("Apparel", "Tank tops"),
        "image": "p6-tank.png",
        "summary": "Lightweight racerback tank with the P6 mark.",
        "colours": [("WHT", "White"), ("BLK", "Black")],
        "sizes": SIZES_XS_XL,
        "price": "26.00",
        "unit_cost": "9.00",
        "size_price": {},
        "size_cost": {},
        "stock": 30,
    },
    {
        "code": "TOTE",
        "upc": "P6-TOTE",
        "title": "P6 Tote Bag",
        "class": "accessory",
        "category": ("Accessories",),
        "image": "p6-tote.png",
        "summary": "Natural cotton canvas tote printed with Principle 6.",
        "sku": "P6-TOTE",
        "price": "20.00",
        "unit_cost": "6.00",
        "stock": 60,
    },
    {
        "code": "PIN",
        "upc": "P6-PIN",
        "title": "P6 Enamel Pin",
        "class": "accessory",
        "category": ("Accessories",),
        "image": "p6-pin.png",
        "summary": "Hard enamel pin, 25 mm, with the rainbow P6 mark.",
        "sku": "P6-PIN",
        "price": "8.00",
        "unit_cost": "1.75",
        "stock": 150,
    },
]


def variants(product):
    """Yield (sku, size, colour_name, price, unit_cost) for each buyable variant of a parent product."""
    for colour_code, colour_name in product["colours"]:
        for size in product["sizes"]:
            yield (
                f"P6-{product['code']}-{colour_code}-{size}",
                size,
                colour_name,
                product["size_price"].get(size, product["price"]),
                product["size_cost"].get(size, product["unit_cost"]),
            )

# Shipping weight in kg per product (by the UPC of the standalone or parent product: a variant weighs what its
# parent does), read by shop/shipping.py's scale; any other product weighs its zone's default weight. Not a product
# attribute: Oscar lists every attribute in a variant's summary (the size select, basket and order lines).
DEFAULT_WEIGHT = "0.500"
WEIGHTS = {"P6-TEE": "0.200", "P6-HOOD": "0.600", "P6-TANK": "0.150", "P6-TOTE": "0.150", "P6-PIN": "0.020"}

# Shipping zones: Oscar weight-based methods (editable by staff in the dashboard, Shipping charges). A zone with
# no countries serves every shipping country no other zone names. Bands: (upper weight limit in kg, charge).
SHIPPING_ZONES = [
    {"code": "p6-us", "name": _("United States"), "countries": ["US"],
     "bands": [("0.500", "5.00"), ("1.000", "8.00"), ("5.000", "12.00")]},
    {"code": "p6-eu-uk", "name": _("European Union and United Kingdom"), "countries": ["FR", "DE", "NL", "SE", "GB"],
     "bands": [("0.500", "9.00"), ("1.000", "14.00"), ("5.000", "22.00")]},
    {"code": "p6-world", "name": _("Russia and the rest of the world"), "countries": [],
     "bands": [("0.500", "12.00"), ("1.000", "19.00"), ("5.000", "30.00")]},
]

# --- Translations (issue 16, item 2) ----------------------------------------------------------------------------
# French and Russian for what the fan reads; English is the text above. `load_p6_catalogue` writes a translation
# only where it is empty, so a translation staff have edited in the dashboard is never overwritten. Keyed by the
# English text (or the UPC for products): a name staff renamed in English keeps its own translations.
LANGUAGES = ("fr", "ru")

PRINCIPLE_6_TRANSLATED = {
    "fr": (
        "<p>Le <strong>Principe 6</strong> de la Charte olympique dit : <em>« La jouissance des droits et libertés "
        "reconnus dans la présente Charte olympique doit être assurée sans discrimination d'aucune sorte, notamment "
        "en raison de la race, la couleur, le sexe, l'orientation sexuelle, la langue, la religion, les opinions "
        "politiques ou autres, l'origine nationale ou sociale, la fortune, la naissance ou toute autre situation. »"
        "</em></p>"
        "<p>En 2014, avant les Jeux olympiques d'hiver de Sotchi et la loi russe contre la « propagande gay », "
        "athlètes et fans ont porté les propres mots de la Charte olympique : la campagne P6 permettait à chacun de "
        "protester contre la discrimination sans enfreindre les règles olympiques interdisant les déclarations "
        "politiques. Les vêtements sont fabriqués par American Apparel ; une part du bénéfice de chaque article va "
        "aux groupes LGBT russes, et cette boutique montre exactement combien.</p>"
    ),
    "ru": (
        "<p><strong>Принцип 6</strong> Олимпийской хартии гласит: <em>«Пользование правами и свободами, "
        "изложенными в настоящей Олимпийской хартии, должно быть обеспечено без какой бы то ни было дискриминации "
        "по признаку расы, цвета кожи, пола, сексуальной ориентации, языка, религии, политических или иных "
        "убеждений, национального или социального происхождения, имущественного положения, рождения или иного "
        "статуса».</em></p>"
        "<p>В 2014 году, накануне зимних Олимпийских игр в Сочи и российского закона против «гей-пропаганды», "
        "спортсмены и болельщики надели слова самой Олимпийской хартии: кампания P6 позволила каждому выступить "
        "против дискриминации, не нарушая олимпийских правил о политических заявлениях. Одежду шьёт American "
        "Apparel; часть прибыли с каждой вещи идёт российским ЛГБТ-группам, и этот магазин показывает, сколько "
        "именно.</p>"
    ),
}

#: UPC: {language: (title, summary)}
PRODUCTS_TRANSLATED = {
    "P6-TEE": {
        "fr": ("T-shirt unisexe P6", "T-shirt col rond en jersey fin, le texte entier du Principe 6 sur la poitrine."),
        "ru": ("Футболка унисекс P6", "Футболка из тонкого джерси с круглым вырезом и полным текстом Принципа 6 "
                                      "на груди."),
    },
    "P6-HOOD": {
        "fr": ("Sweat à capuche P6", "Sweat zippé à capuche en molleton épais, « P6 » devant, le Principe 6 dans "
                                     "le dos."),
        "ru": ("Худи P6", "Плотное флисовое худи на молнии: «P6» спереди, Принцип 6 на спине."),
    },
    "P6-TANK": {
        "fr": ("Débardeur P6", "Débardeur léger dos nageur avec le logo P6."),
        "ru": ("Майка P6", "Лёгкая майка-борцовка со знаком P6."),
    },
    "P6-TOTE": {
        "fr": ("Sac cabas P6", "Sac cabas en toile de coton naturel imprimé du Principe 6."),
        "ru": ("Сумка-шоппер P6", "Сумка-шоппер из натурального хлопкового холста с текстом Принципа 6."),
    },
    "P6-PIN": {
        "fr": ("Pin's émaillé P6", "Pin's en émail dur, 25 mm, avec le logo P6 arc-en-ciel."),
        "ru": ("Эмалированный значок P6", "Значок из твёрдой эмали, 25 мм, с радужным знаком P6."),
    },
}

#: English category name: {language: (name, description)}
CATEGORIES_TRANSLATED = {
    "Apparel": {"fr": ("Vêtements", "T-shirts, sweats et débardeurs imprimés du texte du Principe 6."),
                "ru": ("Одежда", "Футболки, худи и майки с текстом Принципа 6.")},
    "T-shirts": {"fr": ("T-shirts", "T-shirts P6."), "ru": ("Футболки", "Футболки P6.")},
    "Hoodies": {"fr": ("Sweats à capuche", "Sweats à capuche P6."), "ru": ("Худи", "Худи P6.")},
    "Tank tops": {"fr": ("Débardeurs", "Débardeurs P6."), "ru": ("Майки", "Майки P6.")},
    "Accessories": {"fr": ("Accessoires", "Sacs et pin's qui portent le Principe 6."),
                    "ru": ("Аксессуары", "Сумки и значки с Принципом 6.")},
}

#: English name of a product type, an attribute or a colour: {language: name}
NAMES_TRANSLATED = {
    "Apparel": {"fr": "Vêtements", "ru": "Одежда"},
    "Accessory": {"fr": "Accessoire", "ru": "Аксессуар"},
    "Size": {"fr": "Taille", "ru": "Размер"},
    "Colour": {"fr": "Couleur", "ru": "Цвет"},
    "Black": {"fr": "Noir", "ru": "Чёрный"},
    "White": {"fr": "Blanc", "ru": "Белый"},
    "Heather Grey": {"fr": "Gris chiné", "ru": "Серый меланж"},
    "Navy": {"fr": "Bleu marine", "ru": "Тёмно-синий"},
}

#: The option group holding the colours (an option's English name is what a fan's choice posts).
COLOUR_GROUP = "Colour"

#: The About P6 page: a flat page at this address, its text per language rendered from shop/about_body.html
#: (whose strings are translated in locale/), so the seeded page reads as the template did.
ABOUT_URL = "/about-p6/"
ABOUT_TEMPLATE = "shop/about_body.html"
