"""What invalidates cached fan pages: every save or delete of what they show.

Stock levels are not here: sales, cancellations and Oscar's allocations change them with queryset
updates (no signal), so each page's key carries the stock records near their last units instead
(shop/pagecache/pages.py). Prices, titles, images, categories, unit costs, share rules and reviews
are edited through forms and loaders that save models: each save or delete bumps the catalogue stamp in
the same transaction, so the change and the new stamp commit (or roll back) together. Offers are not
watched: pages show the strategy's price, not the basket's discounts, and Oscar saves the offer on every
order that uses it (its usage count), which would make each sale miss every page and queue on the stamp.
"""

from django.apps import apps
from django.db.models import F
from django.db.models.signals import m2m_changed, post_delete, post_save

#: Every model of these apps.
WATCHED_APPS = ("catalogue", "catalog", "reviews")
#: And these, by "app_label.ModelName" (not the partner's stock alerts, opened and closed by sales; not the
#: fundraising ledger, which changes with every sale).
WATCHED_MODELS = ("partner.StockRecord", "partner.Partner", "fundraising.ShareRule",
                  "fundraising.ShareRuleBeneficiary", "fundraising.Beneficiary",
                  # the About P6 page, which staff edit under Content > Pages
                  "flatpages.FlatPage")


def watched_models():
    for label in WATCHED_APPS:
        yield from apps.get_app_config(label).get_models()
    for name in WATCHED_MODELS:
        yield apps.get_model(name)


def bump():
    """Move the catalogue stamp on, in the current transaction."""
    from shop.pagecache.models import CatalogueStamp

    if not CatalogueStamp.objects.filter(pk=1).update(version=F("version") + 1):
        CatalogueStamp.objects.get_or_create(pk=1, defaults={"version": 2})


def changed(sender, **kwargs):
    if kwargs.get("raw"):  # loaddata: the stamp is bumped by whoever loads
        return
    if "update_fields" not in kwargs and "signal" in kwargs and kwargs["signal"] is post_save:
        # Oscar's StockRecord.allocate / consume_allocation / cancel_allocation send post_save by hand
        # (without update_fields, which Model.save always sends) around their stock UPDATE: a stock level,
        # which page keys read live. Bumping here would miss every page on every sale.
        return
    bump()


def connect():
    for model in watched_models():
        uid = f"pagecache:{model._meta.label}"
        post_save.connect(changed, sender=model, dispatch_uid=uid + ":save")
        post_delete.connect(changed, sender=model, dispatch_uid=uid + ":delete")
        for field in model._meta.local_many_to_many:
            m2m_changed.connect(changed, sender=field.remote_field.through, dispatch_uid=f"{uid}:{field.name}")
