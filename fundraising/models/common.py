"""What the ledger's models share: the precision of amounts, the paid order statuses, the append-only guards."""

from django.conf import settings
from django.db import models

from fundraising.exceptions import AppendOnlyError

AMOUNT = {"max_digits": 18, "decimal_places": 4}
#: Order statuses that mean the money was taken (settings.SHOP_PAID_ORDER_STATUSES, next to the pipeline).
PAID_ORDER_STATUSES = tuple(settings.SHOP_PAID_ORDER_STATUSES)


class AppendOnlyQuerySet(models.QuerySet):
    """A queryset that cannot change rows: the ledger is corrected by new transactions, never edited."""

    def _refuse(self, what):
        raise AppendOnlyError(
            f"{self.model._meta.label} is append-only: {what} refused (post a reversing transaction instead)"
        )

    def update(self, **kwargs):
        self._refuse("update()")

    def delete(self):
        self._refuse("delete()")

    def bulk_update(self, objs, fields, batch_size=None):
        self._refuse("bulk_update()")

    def _raw_delete(self, using):
        # What Django's deletion collector uses for "fast" deletes; refuse it too.
        self._refuse("delete()")

    _raw_delete.queryset_only = True


class AppendOnlyManager(models.Manager.from_queryset(AppendOnlyQuerySet)):
    pass


class AppendOnlyModel(models.Model):
    """A row that is inserted once and never changed or deleted (the database refuses it as well)."""

    objects = AppendOnlyManager()

    class Meta:
        abstract = True
        # Django's internal lookups (related managers, the deletion collector) use the base manager.
        base_manager_name = "objects"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError(f"{self._meta.label} is append-only: saving an existing row refused")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{self._meta.label} is append-only: delete() refused")
