"""oscarapi's basket line list, refusing a body that is not an object (found through OSCARAPI_OVERRIDE_MODULES)."""

from oscarapi.views.basket import LineList as OscarApiLineList

from shop.api.views.body import ObjectBodyMixin


class LineList(ObjectBodyMixin, OscarApiLineList):
    pass
