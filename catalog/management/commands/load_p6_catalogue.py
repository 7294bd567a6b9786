"""Seed the P6 catalogue: partner, product classes, categories, products, variants, stock, unit costs, images.

Idempotent: each object is looked up by its natural key (partner name, product class slug, category path,
product UPC, stock record SKU) and only created when missing. Existing objects are never modified, so
staff edits (prices, stock, costs) survive a re-run. Also makes sure the shop can check out: the country
list (`oscar_populate_countries`), the shipping countries and the Site's name.
"""

from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.sites.models import Site
from django.core.files import File
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
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
Country = get_model("address", "Country")
WeightBased = get_model("shipping", "WeightBased")

IMAGES_DIR = Path(__file__).resolve().parents[2] / "seed" / "images"


class Command(BaseCommand):
    help = "Load the P6 catalogue (idempotent: creates only what is missing and prints it)."

    def handle(self, *args, **options):
        self.created = []
        self.currency = settings.OSCAR_DEFAULT_CURRENCY
        self.ensure_countries()
        with transaction.atomic():
            self.ensure_site()
            partner = self.ensure_partner()
            classes = {code: self.ensure_product_class(code, spec) for code, spec in data.PRODUCT_CLASSES.items()}
            categories = {path: self.ensure_category(path, description) for path, description in data.CATEGORIES}
            for spec in data.PRODUCTS:
                self.ensure_product(spec, partner, classes[spec["class"]], categories[spec["category"]])
            self.ensure_shipping_zones()
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
        for attr_code, attr_name in spec["attributes"]:
            _, created = ProductAttribute.objects.get_or_create(
                product_class=product_class, code=attr_code,
                defaults={"name": attr_name, "type": ProductAttribute.TEXT, "required": True},
            )
            if created:
                self.created.append(f"attribute: {product_class.name}.{attr_code}")
        return product_class

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
            child.attr.colour = colour
            child.save()
            self.created.append(f"variant: {child.title}")
        else:
            child = record.product
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

    def attach_image(self, product, filename):
        with open(IMAGES_DIR / filename, "rb") as fh:
            image = ProductImage(product=product, caption=product.title, display_order=0)
            image.original.save(filename, File(fh), save=False)
            image.save()
        self.created.append(f"image: {filename} for {product.title}")


class _Null:
    def write(self, *_args, **_kwargs):
        pass

    def flush(self):
        pass
