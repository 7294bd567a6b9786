"""The dashboard's catalogue and page forms with a field per language for each translated field (issue 16, item 2).

Oscar's forms edit `title`, `name`, `description`, `option` and a page's `title` and `content`; with
django-modeltranslation (catalog/translation.py) those read and write whatever language the staff member's
dashboard is in. Here each is replaced by its columns, English first (required where the field was: it is what
every language falls back to), then French and Russian (optional: empty shows English). Swapped in for Oscar's by
shop/loading.py; the two formset tables that name their fields are in shop/templates/oscar/dashboard/catalogue/.
"""

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from oscar.apps.dashboard.catalogue import forms as catalogue_forms
from oscar.apps.dashboard.pages import forms as page_forms

LANGUAGES = settings.MODELTRANSLATION_LANGUAGES
DEFAULT = settings.MODELTRANSLATION_DEFAULT_LANGUAGE
EMPTY_SHOWS_ENGLISH = _("Empty: the English text is shown.")


def per_language(fields, translated):
    """``fields`` with each of ``translated`` replaced by its column per language, in place."""
    result = []
    for name in fields:
        result.extend([f"{name}_{lang}" for lang in LANGUAGES] if name in translated else [name])
    return result


class TranslatedFieldsMixin:
    """Labels each language's field ("Title (French)"), requires English where Oscar required the field."""

    translated = ()
    required = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = dict(settings.LANGUAGES)
        for field in self.translated:
            for lang in LANGUAGES:
                bound = self.fields.get(f"{field}_{lang}")
                if bound is None:
                    continue
                original = self._meta.model._meta.get_field(field).verbose_name
                bound.label = f"{str(original).capitalize()} ({names[lang]})"
                bound.required = lang == DEFAULT and field in self.required
                bound.help_text = "" if lang == DEFAULT else EMPTY_SHOWS_ENGLISH

    def fields_of(self, field):
        """The bound fields of ``field``'s languages, for the formset tables."""
        return [self[f"{field}_{lang}"] for lang in LANGUAGES if f"{field}_{lang}" in self.fields]


class ProductForm(TranslatedFieldsMixin, catalogue_forms.ProductForm):
    translated = ("title", "description")

    class Meta(catalogue_forms.ProductForm.Meta):
        fields = per_language(catalogue_forms.ProductForm.Meta.fields, {"title", "description"})

    def delete_non_child_fields(self):
        super().delete_non_child_fields()
        for lang in LANGUAGES:
            self.fields.pop(f"description_{lang}", None)


class CategoryForm(TranslatedFieldsMixin, catalogue_forms.CategoryForm):
    translated = ("name", "description")
    required = ("name",)

    class Meta(catalogue_forms.CategoryForm.Meta):
        fields = per_language(catalogue_forms.CategoryForm.Meta.fields, {"name", "description"})


class ProductClassForm(TranslatedFieldsMixin, catalogue_forms.ProductClassForm):
    translated = ("name",)
    required = ("name",)

    class Meta(catalogue_forms.ProductClassForm.Meta):
        fields = per_language(catalogue_forms.ProductClassForm.Meta.fields, {"name"})


class ProductAttributesForm(TranslatedFieldsMixin, catalogue_forms.ProductAttributesForm):
    translated = ("name",)
    required = ("name",)

    class Meta(catalogue_forms.ProductAttributesForm.Meta):
        fields = per_language(catalogue_forms.ProductAttributesForm.Meta.fields, {"name"})

    @property
    def name_fields(self):
        return self.fields_of("name")

    def clean_code(self):
        # Oscar makes a missing code from the name: the English one
        if not self.cleaned_data.get("code") and self.cleaned_data.get(f"name_{DEFAULT}"):
            self.cleaned_data["name"] = self.cleaned_data[f"name_{DEFAULT}"]
        return super().clean_code()


class AttributeOptionForm(TranslatedFieldsMixin, catalogue_forms.AttributeOptionForm):
    translated = ("option",)
    required = ("option",)

    class Meta(catalogue_forms.AttributeOptionForm.Meta):
        fields = per_language(catalogue_forms.AttributeOptionForm.Meta.fields, {"option"})

    @property
    def option_fields(self):
        return self.fields_of("option")


class OptionForm(TranslatedFieldsMixin, catalogue_forms.OptionForm):
    translated = ("name",)
    required = ("name",)

    class Meta(catalogue_forms.OptionForm.Meta):
        fields = per_language(catalogue_forms.OptionForm.Meta.fields, {"name"})


class PageUpdateForm(TranslatedFieldsMixin, page_forms.PageUpdateForm):
    translated = ("title", "content")
    required = ("title",)

    class Meta(page_forms.PageUpdateForm.Meta):
        fields = per_language(page_forms.PageUpdateForm.Meta.fields, {"title", "content"})
