from django.apps import AppConfig


class JobsConfig(AppConfig):
    """Background work (DESIGN "Background work, and more than one machine"): the queue, the outbox of
    emails, the periodic jobs and their locks, and the health check."""

    name = "shop.jobs"
    label = "jobs"
    verbose_name = "Background jobs"
    default_auto_field = "django.db.models.BigAutoField"
