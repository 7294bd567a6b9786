"""Oscar's class loader, with the few dashboard classes that must change replaced (never forking the
dashboard app): see shop/payments/dashboard/status.py. Set as OSCAR_DYNAMIC_CLASS_LOADER."""

from django.utils.module_loading import import_string
from oscar.core.loading import default_class_loader

OVERRIDES = {
    ("dashboard.orders.forms", "OrderStatusForm"): "shop.payments.dashboard.status.OrderStatusForm",
    ("order.processing", "EventHandler"): "shop.payments.dashboard.status.EventHandler",
}


def class_loader(module_label, classnames, module_prefix):
    classes = default_class_loader(module_label, classnames, module_prefix)
    return [
        import_string(OVERRIDES[(module_label, name)]) if (module_label, name) in OVERRIDES else cls
        for name, cls in zip(classnames, classes, strict=True)
    ]
