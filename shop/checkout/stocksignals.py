"""The stock record signals of an allocation, for many records at once.

Oscar's ``StockRecord.allocate`` sends ``pre_save`` and ``post_save`` around its UPDATE, and two of Oscar's
``post_save`` receivers then query per record: ``update_stock_alerts`` (opens or closes the low-stock alert)
and, with ``OSCAR_EAGER_ALERTS``, ``send_product_alerts`` (mails the fans waiting for the product when it is
available). ``bulk_allocation`` lets the OrderCreator allocate every line in one UPDATE
(shop/checkout/ordercreator.py): it sends the same signals for each record, and does those two receivers' work
for all the records in a constant number of queries, while the receivers themselves (replaced by the
wrappers below, connected in CheckoutConfig.ready) skip the records it handles. Every other receiver of the
stock record's signals runs as before.
"""

from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db.models.signals import post_save
from django.utils.timezone import now
from oscar.core.loading import get_class, get_model

StockAlert = get_model("partner", "StockAlert")
StockRecord = get_model("partner", "StockRecord")
ProductAlert = get_model("customer", "ProductAlert")

_bulk = ContextVar("p6_bulk_allocation", default=frozenset())


@contextmanager
def bulk_allocation(records):
    """Around the UPDATE that allocates ``records`` (which must leave their ``num_allocated`` current): their
    ``pre_save`` before, the low-stock and product alerts and their ``post_save`` after."""
    for record in records:
        record.pre_save_signal()
    yield
    _update_stock_alerts(records)
    if settings.OSCAR_EAGER_ALERTS:
        _send_product_alerts(records)
    token = _bulk.set(frozenset(id(record) for record in records))
    try:
        for record in records:
            record.post_save_signal()
    finally:
        _bulk.reset(token)


def _update_stock_alerts(records):
    # Oscar's update_stock_alerts, for all the records: one read, at most one insert and one update.
    by_pk = {record.pk: record for record in records}
    open_alerts = {alert.stockrecord_id: alert
                   for alert in StockAlert.objects.filter(stockrecord_id__in=by_pk, status=StockAlert.OPEN)}
    new = [StockAlert(stockrecord=record, threshold=record.low_stock_threshold)
           for pk, record in by_pk.items() if record.is_below_threshold and pk not in open_alerts]
    closed = [alert.pk for pk, alert in open_alerts.items() if not by_pk[pk].is_below_threshold]
    if new:
        StockAlert.objects.bulk_create(new)
    if closed:
        StockAlert.objects.filter(pk__in=closed).update(status=StockAlert.CLOSED, date_closed=now())


def _send_product_alerts(records):
    # Oscar's send_product_alerts mails nobody for a product with no active alert (of it or of its parent):
    # one query finds the few products that have one, and only those go through Oscar's dispatcher.
    wanted = set()
    for record in records:
        wanted.update(pk for pk in (record.product_id, record.product.parent_id) if pk)
    alerted = set(ProductAlert.objects.filter(product_id__in=wanted, status=ProductAlert.ACTIVE)
                  .values_list("product_id", flat=True))
    if alerted:
        dispatcher = get_class("customer.alerts.utils", "AlertsDispatcher")()
        for record in records:
            if {record.product_id, record.product.parent_id} & alerted:
                dispatcher.send_product_alert_email_for_user(record.product)


def _handled_in_bulk(instance):
    return id(instance) in _bulk.get()


def update_stock_alerts(sender, instance, created, **kwargs):
    if not _handled_in_bulk(instance):
        from oscar.apps.partner import receivers

        receivers.update_stock_alerts(sender, instance=instance, created=created, **kwargs)


def send_product_alerts(sender, instance, created, **kwargs):
    if not _handled_in_bulk(instance):
        from oscar.apps.customer.alerts import receivers

        receivers.send_product_alerts(sender, instance=instance, created=created, **kwargs)


def connect():
    """Put the wrappers above in place of Oscar's two receivers (importing Oscar's modules first, so that they
    connect now and never again)."""
    from oscar.apps.customer.alerts import receivers as alert_receivers
    from oscar.apps.partner import receivers as partner_receivers

    if post_save.disconnect(partner_receivers.update_stock_alerts, sender=StockRecord):
        post_save.connect(update_stock_alerts, sender=StockRecord, dispatch_uid="p6_update_stock_alerts")
    if post_save.disconnect(alert_receivers.send_product_alerts, sender=StockRecord):
        post_save.connect(send_product_alerts, sender=StockRecord, dispatch_uid="p6_send_product_alerts")
