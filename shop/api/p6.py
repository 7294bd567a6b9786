"""Our JSON endpoints under /api/p6/: pay an order, donation figures of a product and of an order, totals.

Same rules and same services as the pages: `pay_order` / `check_attempt` (shop.payments.services) with the
pay page's access rule (`order_for_request`: the order's customer, or the session that placed it, else 404),
`product_estimate` (the product page's figure), `order_donations` (the posted donation) and the public
totals of /fundraising/totals.json. Bodies in and out are the serializers of shop/api/serializers/p6.py, from
which drf-spectacular writes their part of the API's schema (/api/schema/); the status codes are declared here.
"""

import re

from axes.helpers import get_client_ip_address
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from oscar.core.loading import get_model
from rest_framework.exceptions import ParseError
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from fundraising import estimates
from fundraising.public import as_json, transparency_totals
from shop.api.serializers.p6 import (
    ErrorSerializer,
    OrderDonationSerializer,
    PayAnswerSerializer,
    PaySerializer,
    ProductDonationSerializer,
    TotalsSerializer,
)
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


NUMBER = OpenApiParameter(
    "number", {"type": "string", "pattern": f"^{NUMBER_RE.pattern}$", "minLength": 1, "maxLength": 128},
    OpenApiParameter.PATH, description="The order number.")
PK = OpenApiParameter("pk", {"type": "integer", "minimum": 0, "maximum": 10 ** 18 - 1}, OpenApiParameter.PATH,
                      description="The product's id.")


def _pay(description):
    return OpenApiResponse(PayAnswerSerializer, description=description)


def _error(description):
    return OpenApiResponse(ErrorSerializer, description=description)


NO_SUCH_ORDER = _error("No such order (or not yours).")


class P6APIView(APIView):
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser, FormParser]


class PayOrderView(P6APIView):
    """POST {payment_method} to make a new attempt, or {intent} to check one again after 3D Secure."""

    @extend_schema(
        operation_id="payOrder", parameters=[NUMBER], request=PaySerializer,
        summary="Pay an order: a new attempt with a PaymentMethod id, or check an attempt after 3D Secure.",
        responses={
            200: _pay("Paid (`succeeded`), or 3D Secure is needed (`requires_action`, with `client_secret` and "
                      "`intent`)."),
            202: _pay("Stripe is still processing the payment (`processing`); ask again later."),
            400: _pay("Nothing usable was sent (`invalid`)."),
            402: _pay("The card was declined (`declined`); the order stays payable."),
            403: _error("Wrong credentials, or a logged-in session without its CSRF token."),
            404: NO_SUCH_ORDER,
            409: _pay("The order cannot be paid now (`not_payable`), or another payment for it is in progress "
                      "(`in_progress`)."),
            415: _error("Neither JSON nor a form."),
            429: _pay("Too many declined payments for this order or from this address in the last hour "
                      "(`too_many_attempts`); try again later."),
            503: _pay("Stripe could not be reached, or the outcome is unknown (`error`); asking again never "
                      "charges twice."),
        },
    )
    def post(self, request, number):
        order = order_or_404(request, number)
        try:
            data = request.data
        except ParseError:
            return self.answer("invalid", _("The request body is not valid JSON."), 400)
        pay_request = PaySerializer(data=data)
        if not pay_request.is_valid():
            return self.answer("invalid", pay_request.first_error(), 400)
        payment_method = pay_request.validated_data.get("payment_method", "")
        intent_id = pay_request.validated_data.get("intent", "")
        answer = payments.answer_pay_request(order=order, payment_method=payment_method, intent_id=intent_id,
                                             client_address=get_client_ip_address(request))
        extra = {"client_secret": answer.client_secret, "intent": answer.intent} if answer.intent else {}
        message = fan_message(answer, order=order, intent_id=intent_id)  # a decline in the fan's words, as the page
        return self.answer(answer.status, message, answer.http_status, **extra)

    def answer(self, status, message, code, **extra):
        return Response(PayAnswerSerializer({"status": status, "message": message, **extra}).data, status=code)


class ProductDonationView(P6APIView):
    @extend_schema(
        operation_id="productDonation", parameters=[PK],
        summary="The estimated donation of one item of a product, as its page shows it.",
        responses={
            200: OpenApiResponse(ProductDonationSerializer,
                                 description="The estimate (nulls when no share rule or no price applies)."),
            404: _error("No such public product."),
        },
    )
    def get(self, request, pk):
        if not PK_RE.fullmatch(pk):
            raise Http404(_("No such product."))
        product = get_object_or_404(Product.objects.filter(is_public=True), pk=int(pk))
        try:
            estimate = estimates.product_estimate(product)
        except (TypeError, ValueError):  # as the product page's template tag
            estimate = None
        return Response(ProductDonationSerializer({
            "product": product.pk,
            "share_percent": estimate.share_percent.normalize() if estimate else None,
            "donation_per_item": estimate.amount if estimate else None,
            "currency": estimate.currency if estimate else None,
            "is_from": estimate.is_from if estimate else False,
        }).data)


class OrderDonationView(P6APIView):
    @extend_schema(
        operation_id="orderDonation", parameters=[NUMBER],
        summary="The donation posted for an order (null until it is paid).",
        responses={200: OpenApiResponse(OrderDonationSerializer, description="The order's donation."),
                   404: NO_SUCH_ORDER},
    )
    def get(self, request, number):
        order = order_or_404(request, number)
        posted = estimates.order_donations([order.pk]).get(order.pk)
        return Response(OrderDonationSerializer({
            "number": order.number,
            "status": order.status,
            "posted": posted is not None,
            "donation": posted[0] if posted else None,
            "currency": posted[1] if posted else order.currency,
        }).data)


class TotalsView(P6APIView):
    @extend_schema(
        operation_id="totals", summary="The public fundraising totals, as /fundraising/totals.json.",
        responses={200: OpenApiResponse(TotalsSerializer, description="The totals.")},
    )
    def get(self, request):
        return Response(TotalsSerializer(as_json(transparency_totals())).data)
