"""What of the catalogue is stored per language (django-modeltranslation; issue 16, item 2).

Each field registered here gets a column per language beside it (`title_en`, `title_fr`, `title_ru`). Reading
`product.title` gives the fan's language, English when that translation is empty, so Oscar's own templates,
basket and order lines show the fan's language unchanged. The columns are added by our copy of the apps'
migrations (settings.MIGRATION_MODULES). Staff edit every language in the dashboard (catalog/dashboard.py);
`load_p6_catalogue` fills the P6 catalogue's translations where they are empty, never over an edit.

Not translated: slugs, UPCs and SKUs (stable addresses and keys), sizes (XS to XXL read the same in all three
languages), and the value a fan posts when choosing a colour, which is the option's English name.
"""

from django.contrib.flatpages.models import FlatPage
from modeltranslation.translator import TranslationOptions, register
from oscar.core.loading import get_model

Product = get_model("catalogue", "Product")
Category = get_model("catalogue", "Category")
ProductClass = get_model("catalogue", "ProductClass")
ProductAttribute = get_model("catalogue", "ProductAttribute")
AttributeOption = get_model("catalogue", "AttributeOption")
Option = get_model("catalogue", "Option")


@register(Product)
class ProductTranslation(TranslationOptions):
    fields = ("title", "description")


@register(Category)
class CategoryTranslation(TranslationOptions):
    fields = ("name", "description")


@register(ProductClass)
class ProductClassTranslation(TranslationOptions):
    fields = ("name",)


@register(ProductAttribute)
class ProductAttributeTranslation(TranslationOptions):
    fields = ("name",)


@register(AttributeOption)
class AttributeOptionTranslation(TranslationOptions):
    fields = ("option",)


@register(Option)
class OptionTranslation(TranslationOptions):
    fields = ("name",)


@register(FlatPage)
class FlatPageTranslation(TranslationOptions):
    fields = ("title", "content")
