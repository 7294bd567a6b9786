from django.apps import AppConfig


class PageCacheConfig(AppConfig):
    """Fan pages served from the cache (shop/pagecache/pages.py), invalidated by what they show."""

    name = "shop.pagecache"
    label = "pagecache"
    verbose_name = "Page cache"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from shop.pagecache import signals

        signals.connect()
