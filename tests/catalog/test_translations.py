"""The catalogue in English, French and Russian (issue 16, item 2): stored per language (django-modeltranslation),
seeded by load_p6_catalogue without overwriting staff edits, edited by staff in the dashboard, shown in the fan's
language with English as the fallback, and searched in the fan's language."""

import re
from html import unescape
from io import StringIO

import pytest
from django.apps import apps as django_apps
from django.contrib.flatpages.models import FlatPage
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation
from oscar.core.loading import get_class, get_model

from tests.fundraising.dashboard_support import Sink

pytestmark = pytest.mark.django_db

Product = get_model("catalogue", "Product")
Category = get_model("catalogue", "Category")
ProductClass = get_model("catalogue", "ProductClass")
ProductAttribute = get_model("catalogue", "ProductAttribute")
AttributeOption = get_model("catalogue", "AttributeOption")
AttributeOptionGroup = get_model("catalogue", "AttributeOptionGroup")
Line = get_model("basket", "Line")

LANG = {"en": "en", "fr": "fr-FR,fr;q=0.9", "ru": "ru-RU,ru;q=0.9"}


def tee():
    return Product.objects.get(upc="P6-TEE")


def get(client, url, lang):
    return client.get(url, HTTP_ACCEPT_LANGUAGE=LANG[lang])


def text(html):
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


@pytest.mark.parametrize("lang, title, summary, colour, colour_label, size_label, category", [
    ("en", "P6 Unisex T-shirt", "Fine jersey crew-neck tee", "Heather Grey", "Colour", "Size", "T-shirts"),
    ("fr", "T-shirt unisexe P6", "T-shirt col rond en jersey fin", "Gris chiné", "Couleur", "Taille", "T-shirts"),
    ("ru", "Футболка унисекс P6", "Футболка из тонкого джерси", "Серый меланж", "Цвет", "Размер", "Футболки"),
])
def test_the_product_page_reads_in_the_fans_language(client, p6_catalogue, lang, title, summary, colour,
                                                      colour_label, size_label, category):
    html = get(client, tee().get_absolute_url(), lang).content.decode()
    assert f"<h1>{title}</h1>" in html
    assert summary in html
    # the Principle 6 story in the description too
    assert {"en": "Principle 6</strong> of the Olympic Charter reads", "fr": "Le <strong>Principe 6</strong>",
            "ru": "<strong>Принцип 6</strong> Олимпийской хартии"}[lang] in html
    # the colour is shown in the fan's language and posted by its English name
    assert re.search(r'<input type="radio" name="colour" value="Heather Grey"[^>]*>\s*<span[^>]*></span>\s*'
                     rf'<span class="p6-swatch-name">{colour}</span>', html)
    assert f'<legend class="col-form-label">{colour_label}</legend>' in html
    assert f'<label for="id_size">{size_label}</label>' in html
    # the variant list names attribute and colour in the fan's language
    assert f"{colour_label}: {colour}, {size_label}: XXL" in html
    assert category in text(html)


def test_every_listing_and_the_navigation_read_in_french(client, p6_catalogue):
    html = text(get(client, reverse("catalogue:index"), "fr").content.decode())
    for title in ("T-shirt unisexe P6", "Sweat à capuche P6", "Débardeur P6", "Sac cabas P6", "Pin's émaillé P6"):
        assert title in html
    assert "Vêtements" in html and "Accessoires" in html
    assert "P6 Hoodie" not in html and "Hoodies" not in html
    hoodies = Category.objects.get(slug="hoodies")
    html = text(get(client, hoodies.get_absolute_url(), "fr").content.decode())
    assert "Sweats à capuche" in html and "Sweat à capuche P6" in html


def test_a_french_fan_posting_a_french_page_buys_that_shirt_and_reads_it_in_french(client, p6_catalogue):
    response = client.post(reverse("basket:add", kwargs={"pk": tee().pk}),
                           {"quantity": 1, "colour": "Heather Grey", "size": "M"}, HTTP_ACCEPT_LANGUAGE=LANG["fr"])
    assert response.status_code == 302
    line = Line.objects.get()
    assert line.product.upc == "P6-TEE-HGR-M"
    html = text(get(client, reverse("basket:summary"), "fr").content.decode())
    assert "T-shirt unisexe P6, Gris chiné, M" in html
    # a colour posted by its French name is not a colour: nothing more is added
    response = client.post(reverse("basket:add", kwargs={"pk": tee().pk}),
                           {"quantity": 1, "colour": "Gris chiné", "size": "M"}, HTTP_ACCEPT_LANGUAGE=LANG["fr"])
    assert Line.objects.get().quantity == 1


def test_a_missing_translation_shows_english(client, p6_catalogue):
    Product.objects.filter(upc="P6-PIN").update(title_fr=None, description_fr="")
    pin = Product.objects.get(upc="P6-PIN")
    html = get(client, pin.get_absolute_url(), "fr").content.decode()
    assert "<h1>P6 Enamel Pin</h1>" in html
    assert "Hard enamel pin, 25 mm" in html
    assert "Ajouter au panier" in html  # the page itself is French


@pytest.mark.parametrize("lang, query, found", [
    ("fr", "débardeur", ["P6-TANK"]),
    ("fr", "cabas toile", ["P6-TOTE"]),
    ("fr", "jersey", ["P6-TEE"]),  # the French description: "en jersey fin"
    ("ru", "футболка", ["P6-TEE"]),  # not "Футболка": case-insensitive beyond ASCII, on SQLite too
    ("ru", "ХУДИ", ["P6-HOOD"]),
    ("ru", "Hoodie", ["P6-HOOD"]),  # English is searched too: what a fan sees when a text is not translated
    ("en", "débardeur", []),  # an English page searches English only
    ("fr", "P6-PIN", ["P6-PIN"]),
])
def test_a_fan_searches_in_their_language(client, p6_catalogue, lang, query, found):
    response = get(client, reverse("search:search") + f"?q={query}", lang)
    assert sorted(p.upc for p in response.context["products"]) == found


def test_load_is_idempotent_and_never_overwrites_a_translation_staff_edited(p6_catalogue):
    Product.objects.filter(upc="P6-TEE").update(title_fr="T-shirt P6 (édité)")
    Category.objects.filter(slug="hoodies").update(name_ru=None)
    AttributeOption.objects.filter(option_en="Navy").update(option_fr="")
    out = StringIO()
    call_command("load_p6_catalogue", stdout=out)
    assert out.getvalue().splitlines() == [
        "created translations: Navy (option_fr)",
        "created translations: Apparel > Hoodies (name_ru)",
        "P6 catalogue: 2 objects created.",
    ]
    assert tee().title_fr == "T-shirt P6 (édité)"
    assert Category.objects.get(slug="hoodies").name_ru == "Худи"
    assert AttributeOption.objects.get(option_en="Navy").option_fr == "Bleu marine"
    out = StringIO()
    call_command("load_p6_catalogue", stdout=out)
    assert out.getvalue() == "P6 catalogue already loaded: nothing to do.\n"


def test_the_seed_stores_every_fan_visible_text_in_three_languages(p6_catalogue):
    for lang in ("en", "fr", "ru"):
        assert not Product.objects.filter(**{f"title_{lang}__isnull": True}).exists()
        assert not Product.objects.filter(parent=None, **{f"description_{lang}": ""}).exists()
        assert not Category.objects.filter(**{f"name_{lang}__isnull": True}).exists()
        assert not ProductClass.objects.filter(**{f"name_{lang}__isnull": True}).exists()
        assert not ProductAttribute.objects.filter(**{f"name_{lang}__isnull": True}).exists()
        assert not AttributeOption.objects.filter(**{f"option_{lang}__isnull": True}).exists()
    assert AttributeOption.objects.count() == 4
    assert ProductAttribute.objects.get(code="colour", product_class__slug="apparel").type == "option"
    about = FlatPage.objects.get(url="/about-p6/")
    assert about.title_fr == "À propos du Principe 6" and about.title_ru == "О «Принципе 6»"
    assert "Sotchi" in about.content_fr and "Сочи" in about.content_ru


@pytest.mark.parametrize("lang, heading, words", [
    ("en", "About Principle 6", "Winter Olympics in Sochi"),
    ("fr", "À propos du Principe 6", "Sotchi"),
    ("ru", "О «Принципе 6»", "Сочи"),
])
def test_the_about_page_is_the_stored_page_in_the_fans_language(client, p6_catalogue, lang, heading, words):
    html = get(client, reverse("about-p6"), lang).content.decode()
    assert heading in html and words in html


def test_staff_edit_the_about_page_per_language_and_fans_see_it_at_once(client, staff_client, p6_catalogue):
    about = FlatPage.objects.get(url="/about-p6/")
    assert "Sotchi" in get(client, reverse("about-p6"), "fr").content.decode()  # cached now
    url = reverse("dashboard:page-update", kwargs={"pk": about.pk})
    form = staff_client.get(url).content.decode()
    for field in ("title_en", "title_fr", "title_ru", "content_en", "content_fr", "content_ru"):
        assert f'name="{field}"' in form
    response = staff_client.post(url, {
        "title_en": about.title_en, "title_fr": "Le Principe 6", "title_ru": about.title_ru, "url": about.url,
        "content_en": about.content_en, "content_fr": "<p>Texte revu par l'équipe.</p>", "content_ru": "",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    client.logout()
    fr = get(client, reverse("about-p6"), "fr").content.decode()
    assert "Le Principe 6" in fr and "Texte revu par l'équipe." in fr and "Sotchi" not in fr
    # an emptied translation shows English
    assert "Winter Olympics in Sochi" in get(client, reverse("about-p6"), "ru").content.decode()


def test_staff_edit_a_product_in_each_language(staff_client, p6_catalogue):
    product = Product.objects.get(upc="P6-TOTE")
    page = staff_client.get(reverse("dashboard:catalogue-product", kwargs={"pk": product.pk})).content.decode()
    assert 'value="Sac cabas P6"' in page and 'name="title_ru"' in page and 'name="description_fr"' in page
    assert "Title (French)" in page
    ProductForm = get_class("dashboard.catalogue.forms", "ProductForm")
    data = {"title_en": "P6 Tote Bag", "title_fr": "Tote bag P6", "title_ru": "", "upc": "P6-TOTE",
            "description_en": "<p>Canvas.</p>", "description_fr": "<p>Toile.</p>", "description_ru": "",
            "structure": "standalone", "slug": product.slug, "is_public": "on"}
    form = ProductForm(product.product_class, data=data, instance=product)
    assert form.is_valid(), form.errors
    form.save()
    product.refresh_from_db()
    assert (product.title_en, product.title_fr, product.title_ru) == ("P6 Tote Bag", "Tote bag P6", None)
    with translation.override("ru"):
        assert product.title == "P6 Tote Bag" and product.description == "<p>Canvas.</p>"
    with translation.override("fr"):
        assert product.title == "Tote bag P6"
    # English is what every language falls back to: it is required
    form = ProductForm(product.product_class, data={**data, "title_en": ""}, instance=product)
    assert not form.is_valid()


def test_staff_name_a_colour_in_each_language(staff_client, p6_catalogue):
    group = AttributeOptionGroup.objects.get(name="Colour")
    url = reverse("dashboard:catalogue-attribute-option-group-update", kwargs={"pk": group.pk})
    page = staff_client.get(url).content.decode()
    prefix = re.search(r'name="(\w+)-TOTAL_FORMS"', page).group(1)
    options = list(group.options.order_by("pk"))
    data = {"name": "Colour", f"{prefix}-TOTAL_FORMS": len(options) + 1, f"{prefix}-INITIAL_FORMS": len(options),
            f"{prefix}-MIN_NUM_FORMS": 0, f"{prefix}-MAX_NUM_FORMS": 1000}
    for i, option in enumerate(options):
        data.update({f"{prefix}-{i}-id": option.pk, f"{prefix}-{i}-group": group.pk,
                     f"{prefix}-{i}-option_en": option.option_en, f"{prefix}-{i}-option_fr": option.option_fr,
                     f"{prefix}-{i}-option_ru": option.option_ru})
    data[f"{prefix}-0-option_fr"] = "Noir profond"
    new = len(options)
    data.update({f"{prefix}-{new}-group": group.pk, f"{prefix}-{new}-option_en": "Red",
                 f"{prefix}-{new}-option_fr": "Rouge", f"{prefix}-{new}-option_ru": ""})
    response = staff_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert AttributeOption.objects.get(pk=options[0].pk).option_fr == "Noir profond"
    red = AttributeOption.objects.get(group=group, option_en="Red")
    assert (red.option, red.option_fr, red.option_ru) == ("Red", "Rouge", None)


def test_the_migration_turns_text_colours_into_translatable_options(db):
    """catalog/migrations/0002: a shop seeded before translations had colours as text."""
    migration = __import__("catalog.migrations.0002_colour_options", fromlist=["to_options"])
    apparel = ProductClass.objects.create(name="Old apparel", slug="old-apparel")
    ProductAttribute.objects.create(product_class=apparel, code="colour", name="Colour", type="text")
    parent = Product.objects.create(title="Old tee", structure="parent", product_class=apparel, upc="OLD")
    children = []
    for colour in ("Black", "White", "Black"):
        child = Product(parent=parent, structure="child", upc=f"OLD-{len(children)}")
        child.attr.colour = colour
        child.save()
        children.append(child)
    migration.to_options(django_apps, None)
    attribute = ProductAttribute.objects.get(product_class=apparel, code="colour")
    assert attribute.type == "option" and attribute.option_group.name == "Colour"
    assert sorted(attribute.option_group.options.values_list("option_en", flat=True)) == ["Black", "White"]
    for child, colour in zip(children, ("Black", "White", "Black"), strict=True):
        value = Product.objects.get(pk=child.pk).attribute_values.get(attribute=attribute)
        assert (value.value_option.option_en, value.value_text) == (colour, None)
    # and back, nothing lost
    migration.to_text(django_apps, None)
    assert [Product.objects.get(pk=c.pk).attribute_values.get().value_text for c in children] == \
        ["Black", "White", "Black"]


def test_the_colour_group_seeded_for_an_empty_shop_is_created_once(db):
    call_command("load_p6_catalogue", stdout=Sink())
    call_command("load_p6_catalogue", stdout=Sink())
    assert AttributeOptionGroup.objects.filter(name="Colour").count() == 1
