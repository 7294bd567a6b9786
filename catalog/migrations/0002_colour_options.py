"""A colour becomes an option of the "Colour" option group instead of free text, so its name can be translated
(catalog/translation.py registers AttributeOption.option) while the English name stays what a fan's choice posts.

Every existing `colour` attribute of type text is converted: each distinct colour becomes an option (its English
name is the text it had), each variant's value points at its option. Nothing is lost: reversing it writes the
text back.
"""

from django.db import migrations

GROUP = "Colour"


def to_options(apps, schema_editor):
    ProductAttribute = apps.get_model("catalogue", "ProductAttribute")
    ProductAttributeValue = apps.get_model("catalogue", "ProductAttributeValue")
    AttributeOptionGroup = apps.get_model("catalogue", "AttributeOptionGroup")
    AttributeOption = apps.get_model("catalogue", "AttributeOption")
    attributes = list(ProductAttribute.objects.filter(code="colour", type="text"))
    if not attributes:
        return
    group, _ = AttributeOptionGroup.objects.get_or_create(name=GROUP)
    for attribute in attributes:
        for value in ProductAttributeValue.objects.filter(attribute=attribute):
            name = (value.value_text or "").strip()
            option = AttributeOption.objects.filter(group=group, option=name).first()
            if option is None:
                option = AttributeOption.objects.create(group=group, option=name, option_en=name)
            value.value_option = option
            value.value_text = None
            value.save(update_fields=["value_option", "value_text"])
        attribute.type = "option"
        attribute.option_group = group
        attribute.save(update_fields=["type", "option_group"])


def to_text(apps, schema_editor):
    ProductAttribute = apps.get_model("catalogue", "ProductAttribute")
    ProductAttributeValue = apps.get_model("catalogue", "ProductAttributeValue")
    for attribute in ProductAttribute.objects.filter(code="colour", type="option"):
        for value in ProductAttributeValue.objects.filter(attribute=attribute).select_related("value_option"):
            value.value_text = value.value_option.option if value.value_option_id else ""
            value.value_option = None
            value.save(update_fields=["value_option", "value_text"])
        attribute.type = "text"
        attribute.option_group = None
        attribute.save(update_fields=["type", "option_group"])


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0001_initial"),
        ("catalogue", "0033_translations"),
    ]

    operations = [migrations.RunPython(to_options, to_text)]
