from django.db import models


class CatalogueStamp(models.Model):
    """One row: the catalogue's version, part of every cached page's key.

    Any save or delete of what fan pages show (products, categories, images, attributes, stock records,
    unit costs, share rules, reviews) bumps it (shop/pagecache/signals.py), so every cached page
    is missed at once. It lives in the database, not in the cache, so it is right whatever the cache is
    (one process's memory or Redis) and however many processes serve the shop.
    """

    version = models.BigIntegerField(default=1)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "catalogue stamp"

    def __str__(self):
        return f"catalogue version {self.version}"
