"""Our JSON endpoints under /api/p6/: pay an order, donation figures of a product and of an order, totals.

Same rules and same services as the pages: `pay_order` / `check_attempt` (shop.payments.services) with the
pay page's access rule (`order_for_request`: the order's customer, or the session that placed it, else 404),
`product_estimate` (the product page's figure), `order_donations` (the posted donation) and the public
totals of /fundraising/totals.json. The OpenAPI description is shop/api/schema.py.
"""

import re

from axes.helpers import get_client_ip_address
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from oscar.core.loading import get_model
from rest_framework.exceptions import ParseError
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from fundraising import estimates
from fundraising.public import as_json, transparency_totals
from shop.checkout.declines import fan_message
from shop.checkout.views import order_for_request
from shop.payments import services as payments

Product = get_model("catalogue", "Product")


NUMBER_RE = re.compile(r"[A-Za-z0-9-]{1,128}")
PK_RE = re.compile(r"[0-9]{1,18}")


def order_or_404(request, number):
    # Checked before any query: a NUL or an overlong value never reaches the database.
    if not NUMBER_RE.fullmatch(number):
        raise Http404(_("No such order."))
    return order_for_request(request, number)


def money(value):
    return None if value is None else format(value, "f")


class P6APIView(APIView):
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser, FormParser]


class PayOrderView(P6APIView):
    """POST {payment_method} to make a new attempt, or {intent} to check one again after 3D Secure."""

    def post(self, request, number):
        order = order_or_404(request, number)
        try:
            data = request.data
        except ParseError:
            return self.answer("invalid", _("The request body is not valid JSON."), 400)
        if not hasattr(data, "get"):
            data = {}
        payment_method = data.get("payment_method", "")
        intent_id = data.get("intent", "")
        if not isinstance(payment_method, str) or not isinstance(intent_id, str):
            return self.answer("invalid", _("That payment reference is not valid."), 400)
        payment_method, intent_id = payment_method.strip(), intent_id.strip()
        if not payment_method and not intent_id:
            return self.answer("invalid", _("Send a payment_method (a PaymentMethod id) or an intent."), 400)
        if len(payment_method) > 255 or len(intent_id) > 255 or "\x00" in payment_method + intent_id:
            return self.answer("invalid", _("That payment reference is not valid."), 400)
        answer = payments.answer_pay_request(order=order, payment_method=payment_method, intent_id=intent_id,
                                             client_address=get_client_ip_address(request))
        extra = {"client_secret": answer.client_secret, "intent": answer.intent} if answer.intent else {}
        message = fan_message(answer, order=order, intent_id=intent_id)  # a decline in the fan's words, as the page
        return self.answer(answer.status, message, answer.http_status, **extra)

    def answer(self, status, message, code, **extra):
        return Response({"status": status, "message": message, **extra}, status=code)


class ProductDonationView(P6APIView):
    def get(self, request, pk):
        if not PK_RE.fullmatch(pk):
            raise Http404(_("No such product."))
        product = get_object_or_404(Product.objects.filter(is_public=True), pk=int(pk))
        try:
            estimate = estimates.product_estimate(product)
        except (TypeError, ValueError):  # as the product page's template tag
            estimate = None
        return Response({
            "product": product.pk,
            "share_percent": money(estimate.share_percent.normalize()) if estimate else None,
            "donation_per_item": money(estimate.amount) if estimate else None,
            "currency": estimate.currency if estimate else None,
            "is_from": estimate.is_from if estimate else False,
        })


class OrderDonationView(P6APIView):
    def get(self, request, number):
        order = order_or_404(request, number)
        posted = estimates.order_donations([order.pk]).get(order.pk)
        return Response({
            "number": order.number,
            "status": order.status,
            "posted": posted is not None,
            "donation": money(posted[0]) if posted else None,
            "currency": posted[1] if posted else order.currency,
        })


class TotalsView(P6APIView):
    def get(self, request):
        return Response(as_json(transparency_totals()))
