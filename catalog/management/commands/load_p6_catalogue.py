"""Seed the P6 catalogue: partner, product classes, categories, products, variants, stock, unit costs, images.

Idempotent: each object is looked up by its natural key (partner name, product class slug, category path,
product UPC, stock record SKU) and only created when missing. Existing objects are never modified, so
staff edits (prices, stock, costs) survive a re-run. The French and Russian texts (catalog/p6_catalogue.py)
are written only where a translation is empty, so a translation staff edited is never overwritten either;
the About P6 page is seeded the same way, in three languages. Also makes sure the shop can check out: the country
list (`oscar_populate_countries`), the shipping countries and the Site's name.
"""

from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.flatpages.models import FlatPage
from django.contrib.sites.models import Site
from django.core.files import File
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.text import slugify
from oscar.core.loading import get_model

from catalog import p6_catalogue as data
from catalog.models import UnitCost

Partner = get_model("partner", "Partner")
StockRecord = get_model("partner", "StockRecord")
ProductClass = get_model("catalogue", "ProductClass")
ProductAttribute = get_model("catalogue", "ProductAttribute")
Product = get_model("catalogue", "Product")
ProductCategory = get_model("catalogue", "ProductCategory")
ProductImage = get_model("catalogue", "ProductImage")
Category = get_model("catalogue", "Category")
AttributeOptionGroup = get_model("catalogue", "AttributeOptionGroup")
AttributeOption = get_model("catalogue", "AttributeOption")
Country = get_model("address", "Country")
WeightBased = get_model("shipping", "WeightBased")

IMAGES_DIR = Path(__file__).resolve().parents[2] / "seed" / "images"


class Command(BaseCommand):
    help = "Load the P6 catalogue (idempotent: creates only what is missing and prints it)."

    def handle(self, *args, **options):
        # Natural keys are English: look them up and create them in English whatever the shell's language.
        with translation.override("en"):
            self.load()

    def load(self):
        self.created = []
        self.currency = settings.OSCAR_DEFAULT_CURRENCY
        self.ensure_countries()
        with transaction.atomic():
            self.ensure_site()
            partner = self.ensure_partner()
            self.colours = self.ensure_colours()
            classes = {code: self.ensure_product_class(code, spec) for code, spec in data.PRODUCT_CLASSES.items()}
            categories = {path: self.ensure_category(path, description) for path, description in data.CATEGORIES}
            for spec in data.PRODUCTS:
                self.ensure_product(spec, partner, classes[spec["class"]], categories[spec["category"]])
            self.ensure_shipping_zones()
            self.ensure_about_page()
        if self.created:
            for line in self.created:
                self.stdout.write(f"created {line}")
            self.stdout.write(self.style.SUCCESS(f"P6 catalogue: {len(self.created)} objects created."))
        else:
            self.stdout.write("P6 catalogue already loaded: nothing to do.")

    # --- shop set-up ---------------------------------------------------------------------------------
    def ensure_countries(self):
        if not Country.objects.exists():
            call_command("oscar_populate_countries", "--no-shipping", stdout=_Null())
            self.created.append(f"countries: {Country.objects.count()}")
        marked = Country.objects.filter(
            iso_3166_1_a2__in=settings.SHOP_SHIPPING_COUNTRIES, is_shipping_country=False
        ).update(is_shipping_country=True)
        if marked:
            self.created.append(f"shipping countries: {', '.join(settings.SHOP_SHIPPING_COUNTRIES)}")

    def ensure_site(self):
        site = Site.objects.get_current()
        if site.name != settings.OSCAR_SHOP_NAME:
            site.name = settings.OSCAR_SHOP_NAME
            site.save(update_fields=["name"])
            self.created.append(f"site name: {site.name}")

    # --- catalogue -----------------------------------------------------------------------------------
    def ensure_partner(self):
        partner, created = Partner.objects.get_or_create(name=data.PARTNER)
        if created:
            self.created.append(f"partner: {partner.name}")
        return partner

    def ensure_product_class(self, code, spec):
        product_class, created = ProductClass.objects.get_or_create(
            slug=code,
            defaults={"name": spec["name"], "requires_shipping": spec["requires_shipping"],
                      "track_stock": spec["track_stock"]},
        )
        if created:
            self.created.append(f"product class: {product_class.name}")
        self.translate(product_class, name=data.NAMES_TRANSLATED.get(spec["name"], {}))
        for attr_code, attr_name in spec["attributes"]:
            # A colour is an option of the Colour group (translatable); a size is text (it reads the same).
            colour = attr_code == "colour"
            attribute, created = ProductAttribute.objects.get_or_create(
                product_class=product_class, code=attr_code,
                defaults={"name": attr_name, "required": True,
                          "type": ProductAttribute.OPTION if colour else ProductAttribute.TEXT,
                          "option_group": self.colours[0] if colour else None},
            )
            if created:
                self.created.append(f"attribute: {product_class.name}.{attr_code}")
            self.translate(attribute, name=data.NAMES_TRANSLATED.get(attr_name, {}))
        return product_class

    def ensure_colours(self):
        """The Colour option group and an option per P6 colour: (group, {English name: option})."""
        group, created = AttributeOptionGroup.objects.get_or_create(name=data.COLOUR_GROUP)
        if created:
            self.created.append(f"option group: {group.name}")
        names = dict.fromkeys(name for spec in data.PRODUCTS for _, name in spec.get("colours", ()))
        options = {}
        for name in names:
            option = AttributeOption.objects.filter(group=group, option_en=name).first()
            if option is None:
                option = AttributeOption.objects.create(group=group, option=name)
                self.created.append(f"colour: {name}")
            self.translate(option, option=data.NAMES_TRANSLATED.get(name, {}))
            options[name] = option
        return group, options

    def ensure_category(self, path, description):
        node = None
        for depth, name in enumerate(path, start=1):
            siblings = Category.get_root_nodes() if node is None else node.get_children()
            found = siblings.filter(name=name).first()
            if found is None:
                found = (Category.add_root if node is None else node.add_child)(
                    name=name, slug=slugify(name), description=description if depth == len(path) else "",
                )
                self.created.append(f"category: {' > '.join(path[:depth])}")
            node = found
            name_and_description = data.CATEGORIES_TRANSLATED.get(name, {})
            self.translate(node, name={lang: text for lang, (text, _) in name_and_description.items()},
                           description={lang: text for lang, (_, text) in name_and_description.items()}
                           if depth == len(path) else {})
        return node

    def ensure_product(self, spec, partner, product_class, category):
        product = Product.objects.filter(upc=spec["upc"]).first()
        is_parent = "colours" in spec
        if product is None:
            product = Product.objects.create(
                upc=spec["upc"], title=spec["title"], slug=slugify(spec["title"]),
                structure=Product.PARENT if is_parent else Product.STANDALONE,
                product_class=product_class,
                description=f"<p>{spec['summary']}</p>{data.PRINCIPLE_6}",
                is_public=True,
            )
            ProductCategory.objects.create(product=product, category=category)
            self.created.append(f"product: {product.title}")
        texts = data.PRODUCTS_TRANSLATED.get(spec["upc"], {})
        self.translate(
            product, title={lang: title for lang, (title, _) in texts.items()},
            description={lang: f"<p>{summary}</p>{data.PRINCIPLE_6_TRANSLATED[lang]}"
                         for lang, (_, summary) in texts.items()},
        )
        if not product.images.exists():
            self.attach_image(product, spec["image"])
        if is_parent:
            for sku, size, colour, price, cost in data.variants(spec):
                self.ensure_variant(product, partner, sku, size, colour, price, cost, spec["stock"])
        else:
            self.ensure_stockrecord(product, partner, spec["sku"], spec["price"], spec["unit_cost"], spec["stock"])

    def ensure_variant(self, parent, partner, sku, size, colour, price, cost, stock):
        record = StockRecord.objects.filter(partner=partner, partner_sku=sku).select_related("product").first()
        if record is None:
            child = Product(
                parent=parent, structure=Product.CHILD, upc=sku,
                title=f"{parent.title}, {colour}, {size}", slug=slugify(f"{parent.title}-{colour}-{size}"),
                is_public=True,
            )
            child.attr.size = size
            child.attr.colour = self.colours[1][colour]
            child.save()
            self.created.append(f"variant: {child.title}")
        else:
            child = record.product
        # "T-shirt unisexe P6, Noir, M": the parent's title and the colour in each language (basket, order lines)
        self.translate(child, title={
            lang: f"{parent_title}, {data.NAMES_TRANSLATED.get(colour, {}).get(lang, colour)}, {size}"
            for lang, (parent_title, _) in data.PRODUCTS_TRANSLATED.get(parent.upc, {}).items()})
        self.ensure_stockrecord(child, partner, sku, price, cost, stock)

    def ensure_stockrecord(self, product, partner, sku, price, cost, stock):
        record, created = StockRecord.objects.get_or_create(
            partner=partner, partner_sku=sku,
            defaults={"product": product, "price_currency": self.currency, "price": Decimal(price),
                      "num_in_stock": stock, "low_stock_threshold": 5},
        )
        if created:
            self.created.append(f"stock record: {sku} at {price} {self.currency}, {stock} in stock")
        if not UnitCost.objects.filter(stockrecord=record).exists():
            UnitCost.objects.create(stockrecord=record, amount=Decimal(cost), currency=record.price_currency)
            self.created.append(f"unit cost: {sku} {cost} {record.price_currency}")

    def ensure_shipping_zones(self):
        # A zone is created once, with its bands and countries; staff edit it afterwards in the dashboard
        # (Shipping charges), and a later run never overwrites it.
        for zone in data.SHIPPING_ZONES:
            method, created = WeightBased.objects.get_or_create(
                code=zone["code"], defaults={"name": zone["name"], "default_weight": Decimal(data.DEFAULT_WEIGHT)},
            )
            if not created:
                continue
            method.countries.set(Country.objects.filter(iso_3166_1_a2__in=zone["countries"]))
            for upper, charge in zone["bands"]:
                method.bands.create(upper_limit=Decimal(upper), charge=Decimal(charge))
            self.created.append(f"shipping zone: {zone['name']}")

    def ensure_about_page(self):
        """The About P6 page (a flat page staff edit under Content > Pages), in each language from the template
        it replaces, whose strings are translated in locale/."""
        page = FlatPage.objects.filter(url=data.ABOUT_URL).first()
        if page is None:
            page = FlatPage.objects.create(
                url=data.ABOUT_URL, title=gettext_in("en", ABOUT_TITLE), content=render_in("en", data.ABOUT_TEMPLATE))
            page.sites.add(Site.objects.get_current())
            self.created.append(f"page: {data.ABOUT_URL}")
        self.translate(
            page, title={lang: gettext_in(lang, ABOUT_TITLE) for lang in data.LANGUAGES},
            content={lang: render_in(lang, data.ABOUT_TEMPLATE) for lang in data.LANGUAGES})

    def translate(self, obj, **fields):
        """Write each field's translations ({language: text}) that are still empty on ``obj``; never an edit."""
        changed = []
        for field, texts in fields.items():
            for lang, text in texts.items():
                column = f"{field}_{lang}"
                if text and not getattr(obj, column):
                    setattr(obj, column, text)
                    changed.append(column)
        if changed:
            obj.save(update_fields=changed)
            self.created.append(f"translations: {obj} ({', '.join(changed)})")

    def attach_image(self, product, filename):
        with open(IMAGES_DIR / filename, "rb") as fh:
            image = ProductImage(product=product, caption=product.title, display_order=0)
            image.original.save(filename, File(fh), save=False)
            image.save()
        self.created.append(f"image: {filename} for {product.title}")


ABOUT_TITLE = "About Principle 6"


def gettext_in(lang, message):
    with translation.override(lang):
        return translation.gettext(message)


def render_in(lang, template):
    with translation.override(lang):
        return render_to_string(template).strip()


class _Null:
    def write(self, *_args, **_kwargs):
        pass

    def flush(self):
        pass
