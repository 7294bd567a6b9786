"""The variant choice of a parent product's page: a colour and a size, as a fan expects, not a flat list.

Oscar's add-to-basket form offers a parent's variants as one select of every child ("Colour: Heather Grey,
Size: XXL", newest first) with the first one preselected, so "Add to basket" without a choice adds whatever
came first. This form (swapped in by shop/loading.py for the basket app's AddToBasketForm and
SimpleAddToBasketForm) offers the colour and the size separately, in size order, preselects nothing, and
resolves the variant on the server from the posted colour and size, so the page works without JavaScript.

The ``child_id`` field stays: the API, scripts and tests post a variant's id directly. It is optional
now, and the colour and size are used when it is empty; when both are posted they must agree.

A colour is posted by its English name (the option's `option_en`), whatever the fan's language, and shown by its
name in that language (catalog/translation.py): a link or a form posted from another language's page still
chooses the same shirt.

Everything the page shows from here depends only on the catalogue, the stock of the variants (sold out or
not) and the language, which the page cache's key covers (shop/pagecache/pages.py).
"""

from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _
from oscar.apps.basket import forms as oscar_forms
from oscar.forms import widgets

from catalog.variants import size_key

COLOUR, SIZE = "colour", "size"


@dataclass(frozen=True)
class Variant:
    product: object
    colour: str | None  # the key posted: the colour's English name
    colour_label: str | None  # its name in the fan's language
    size: str | None
    price: Decimal | None
    currency: str | None
    stockrecord: object | None
    available: bool
    availability: str

    @property
    def pk(self):
        return self.product.pk


def _attribute(child, code):
    """(key, label) of the child's ``code`` attribute: an option's English name and its name in the active
    language; a text value is both. (None, None) when the child has no such value."""
    for value in child.get_attribute_values():
        if value.attribute.code == code:
            option = value.value_option if value.attribute.is_option else None
            if option is not None:
                return (option.option_en or option.option), str(option.option)
            text = str(value.value_as_text)
            return text, text
    return None, None


def public_children(product):
    """The parent's public children, oldest first, with their stock records and attribute values loaded:
    from the page view's prefetch when it made one, else with one query each (not one per child)."""
    children = product.get_public_children()
    if not isinstance(children, list):
        children = list(children.prefetch_attribute_values().prefetch_related("stockrecords"))
    return sorted(children, key=lambda child: child.pk)


def variants_of(product, strategy):
    """The parent's buyable-or-not variants, in the order the page lists them."""
    result = []
    for child in public_children(product):
        info = strategy.fetch_for_product(child)
        price = info.price.excl_tax if info.price.exists else None
        colour, colour_label = _attribute(child, COLOUR)
        result.append(Variant(
            product=child, colour=colour, colour_label=colour_label, size=_attribute(child, SIZE)[0], price=price,
            currency=info.price.currency if info.price.exists else None, stockrecord=info.stockrecord,
            available=info.availability.is_available_to_buy, availability=str(info.availability.message),
        ))
    return result


class AddToBasketForm(oscar_forms.AddToBasketForm):
    def _create_parent_product_fields(self, product):
        self.variants = variants_of(product, self.basket.strategy)
        self.colours = list(dict.fromkeys(v.colour for v in self.variants if v.colour))
        self.colour_labels = {v.colour: v.colour_label for v in self.variants if v.colour}
        self.sizes = sorted({v.size for v in self.variants if v.size}, key=size_key)
        #: Colour and size choose the variant when every variant has both (the P6 apparel); else the flat list.
        self.by_colour_and_size = bool(self.variants) and all(v.colour and v.size for v in self.variants)
        self.fields["child_id"] = forms.ChoiceField(
            choices=[("", _("Choose a variant"))] + [
                (v.pk, v.product.attribute_summary or v.product.get_title()) for v in self.variants],
            label=_("Variant"), required=not self.by_colour_and_size,
            widget=widgets.AdvancedSelect(disabled_values=[v.pk for v in self.variants if not v.available]),
        )
        if self.by_colour_and_size:
            self.fields[COLOUR] = forms.ChoiceField(
                choices=[(c, self.colour_labels[c]) for c in self.colours], label=_("Colour"), required=False,
                widget=forms.RadioSelect)
            self.fields[SIZE] = forms.ChoiceField(
                choices=[("", _("Choose a size"))] + [(s, s) for s in self.sizes], label=_("Size"), required=False)

    def sold_out(self):
        """The variants that exist but cannot be bought, for the page's "sold out" list."""
        return [v for v in getattr(self, "variants", []) if not v.available]

    def clean_child_id(self):
        chosen = self.cleaned_data.get("child_id")
        if not chosen:
            return None
        found = {str(v.pk): v.product for v in self.variants}.get(str(chosen))
        if found is None:
            raise forms.ValidationError(_("Please select a valid product"))
        self.child_product = found
        return chosen

    def clean(self):
        if not self.parent_product.is_parent:
            return super().clean()
        if self.errors:
            # an unknown child, colour or size: its own message says so, and nothing is added
            return self.cleaned_data
        colour, size = self.cleaned_data.get(COLOUR), self.cleaned_data.get(SIZE)
        child = getattr(self, "child_product", None)
        if child is None:
            variant = self._resolve(colour, size)
            if not variant.available:
                raise forms.ValidationError(
                    _("%(colour)s in size %(size)s is sold out: please choose another colour or size.")
                    % {"colour": variant.colour_label, "size": size})
            self.child_product = variant.product
        elif (colour or size) and self._chosen(child) != (colour, size):
            raise forms.ValidationError(_("Please choose the colour and the size again."))
        return super().clean()

    def _chosen(self, child):
        variant = next(v for v in self.variants if v.product is child)
        return (variant.colour, variant.size)

    def _resolve(self, colour, size):
        if not self.by_colour_and_size:
            raise forms.ValidationError(_("Please choose a variant."))
        if not colour and not size:
            raise forms.ValidationError(_("Please choose a colour and a size."))
        if not colour:
            raise forms.ValidationError(_("Please choose a colour."))
        if not size:
            raise forms.ValidationError(_("Please choose a size."))
        for variant in self.variants:
            if (variant.colour, variant.size) == (colour, size):
                return variant
        raise forms.ValidationError(
            _("%(colour)s is not made in size %(size)s: please choose another colour or size.")
            % {"colour": self.colour_labels.get(colour, colour), "size": size})


class SimpleAddToBasketForm(oscar_forms.SimpleAddToBasketMixin, AddToBasketForm):
    pass
