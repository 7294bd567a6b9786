"""Oscar's class loader, with the few classes that must change replaced without forking their app: the dashboard's
order status form and event handler (shop/payments/dashboard/status.py), and the OrderCreator that writes an
order's lines in bulk (shop/checkout/ordercreator.py; every placement path gets it from get_class), and the
add-to-basket forms that let a fan choose a variant by colour and size (shop/variants.py), the shipping
repository by zone and weight and the shipping address form's default country (shop/shipping.py), and the
dashboard's catalogue and page forms with a field per language (catalog/dashboard.py). Set as
OSCAR_DYNAMIC_CLASS_LOADER."""

from django.utils.module_loading import import_string
from oscar.core.loading import default_class_loader

OVERRIDES = {
    ("dashboard.orders.forms", "OrderStatusForm"): "shop.payments.dashboard.status.OrderStatusForm",
    ("order.processing", "EventHandler"): "shop.payments.dashboard.status.EventHandler",
    ("order.utils", "OrderCreator"): "shop.checkout.ordercreator.OrderCreator",
    ("basket.forms", "AddToBasketForm"): "shop.variants.AddToBasketForm",
    ("basket.forms", "SimpleAddToBasketForm"): "shop.variants.SimpleAddToBasketForm",
    ("shipping.repository", "Repository"): "shop.shipping.Repository",
    ("checkout.forms", "ShippingAddressForm"): "shop.shipping.ShippingAddressForm",
    # the catalogue and the About page edited in each language (catalog/dashboard.py)
    ("dashboard.catalogue.forms", "ProductForm"): "catalog.dashboard.ProductForm",
    ("dashboard.catalogue.forms", "CategoryForm"): "catalog.dashboard.CategoryForm",
    ("dashboard.catalogue.forms", "ProductClassForm"): "catalog.dashboard.ProductClassForm",
    ("dashboard.catalogue.forms", "ProductAttributesForm"): "catalog.dashboard.ProductAttributesForm",
    ("dashboard.catalogue.forms", "AttributeOptionForm"): "catalog.dashboard.AttributeOptionForm",
    ("dashboard.catalogue.forms", "OptionForm"): "catalog.dashboard.OptionForm",
    ("dashboard.pages.forms", "PageUpdateForm"): "catalog.dashboard.PageUpdateForm",
    # the dashboard index's revenue over paid orders only (fundraising/dashboard/index.py)
    ("dashboard.views", "IndexView"): "fundraising.dashboard.index.IndexView",
}


def class_loader(module_label, classnames, module_prefix):
    classes = default_class_loader(module_label, classnames, module_prefix)
    return [
        import_string(OVERRIDES[(module_label, name)]) if (module_label, name) in OVERRIDES else cls
        for name, cls in zip(classnames, classes, strict=True)
    ]
