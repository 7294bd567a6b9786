"""oscarapi's basket list, answering an anonymous session that has no basket yet (found through
OSCARAPI_OVERRIDE_MODULES)."""

from oscarapi.basket.operations import get_anonymous_basket
from oscarapi.views.basic import BasketList as OscarApiBasketList
from oscarapi.views.utils import QuerySetList


class BasketList(OscarApiBasketList):
    def get_queryset(self):
        # oscarapi prepares the session's basket without checking there is one (AttributeError, 500): none
        # yet is an empty list, as GET /api/basket/ would create it.
        if not self.request.user.is_authenticated and get_anonymous_basket(self.request) is None:
            return QuerySetList([], self.queryset.none())
        return super().get_queryset()
