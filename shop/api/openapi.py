"""What drf-spectacular cannot read from the views of /api/, for the schema at /api/schema/.

Our endpoints (shop/api/p6.py) declare their answers with extend_schema. oscarapi's views are mostly APIViews
whose one ``serializer_class`` is neither what they read nor what they answer, and whose refusals are their
own (406 with a ``reason``, 401 with a bare string); the extensions below say, view by view, what they really
read and answer, and `postprocess` adds the refusals DRF itself can give on any operation.

SPECTACULAR_SETTINGS names the two hooks; importing this module for them also registers the extensions.
"""

from drf_spectacular.extensions import OpenApiSerializerFieldExtension, OpenApiViewExtension
from drf_spectacular.hooks import preprocess_exclude_path_format
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from oscarapi.utils.loading import get_api_class, get_api_classes
from oscarapi.views.root import api_root

from shop.api.serializers.p6 import MONEY_SCHEMA

ERROR = {"$ref": "#/components/schemas/Error"}
VALIDATION_ERROR = {"$ref": "#/components/schemas/ValidationError"}
COMPONENTS = {
    "Error": {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]},
    "ValidationError": {
        "description": "What was wrong with the request: the messages by field name (`non_field_errors` for the "
                       "whole body) or a `detail`; a list of messages when the whole value was wrong.",
        "anyOf": [{"type": "object", "additionalProperties": {}},
                  {"type": "array", "items": {"type": "string"}}],
    },
}
# Fields oscarapi's serializers read from model properties or methods, which have no type hints.
FIELDS = {
    "Basket": {"is_tax_known": {"type": "boolean", "readOnly": True},
               "currency": {"type": "string", "nullable": True}},
    "Price": {"currency": {"type": "string", "nullable": True}},
    "ShippingMethod": {"price": {"$ref": "#/components/schemas/Price"}, "discount": {"type": "number"}},
    "Order": {"billing_address": {"allOf": [{"$ref": "#/components/schemas/InlineBillingAddress"}],
                                  "nullable": True},
              "shipping_address": {"allOf": [{"$ref": "#/components/schemas/InlineShippingAddress"}],
                                   "nullable": True},
              "payment_url": {"type": "string", "nullable": True, "readOnly": True},
              "offer_discounts": {"type": "array", "items": {"type": "object"}, "readOnly": True},
              "voucher_discounts": {"type": "array", "items": {"type": "object"}, "readOnly": True}},
}
EMPTY_STRING = {"type": "string", "maxLength": 0}


def preprocess(endpoints, **kwargs):
    # oscarapi repeats each of its routes with a format suffix (/api/basket.json): the same operations.
    return preprocess_exclude_path_format(endpoints=endpoints, **kwargs)


def _json(description, schema):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def postprocess(result, generator, request, public):
    """The types of the untyped fields above, and the refusals DRF and Django can give on any operation where
    the view does not declare its own."""
    schemas = result["components"]["schemas"]
    for name, schema in COMPONENTS.items():
        schemas.setdefault(name, schema)
    for component, fields in FIELDS.items():
        if component in schemas:
            schemas[component]["properties"].update(fields)
    for path, operations in result["paths"].items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                responses.setdefault("400", _json("Invalid input.", VALIDATION_ERROR))
                responses.setdefault("415", _json("A body in a media type the operation does not read.", ERROR))
            responses.setdefault("403", _json("Refused: wrong credentials, a logged-in session without its CSRF "
                                              "token, or not allowed.", ERROR))
            if "{" in path:
                not_found = responses.setdefault("404", _json("Not found (or not yours).", ERROR))
                # A value the route's pattern does not take (a negative id, a slash) matches no route at all:
                # the site's own 404 page.
                not_found.setdefault("content", {})["text/html"] = {"schema": {"type": "string"}}
    return result


# --- fields -------------------------------------------------------------------------------------------------


class AmountFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "shop.api.views.checkout.AmountField"

    def map_serializer_field(self, auto_schema, direction):
        return dict(MONEY_SCHEMA)


class AttributeValueFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "oscarapi.serializers.fields.AttributeValueField"

    def map_serializer_field(self, auto_schema, direction):
        return {"description": "The attribute's value, of the attribute's type (text, number, boolean, option, …)."}


# --- views --------------------------------------------------------------------------------------------------


def describe(target, **methods):
    """Register what the view class `target` reads and answers: an extend_schema(...) by method name."""

    class Extension(OpenApiViewExtension):
        target_class = target

        def view_replacement(self):
            return extend_schema_view(**methods)(type(self.target.__name__, (self.target,), {}))

    return Extension


def _answer(schema, description):
    return OpenApiResponse(schema, description=description)


(BasketSerializer, VoucherAddSerializer, VoucherSerializer) = get_api_classes(
    "serializers.basket", ["BasketSerializer", "VoucherAddSerializer", "VoucherSerializer"])
AddProductSerializer = get_api_class("serializers.product", "AddProductSerializer")
(ShippingAddressSerializer, ShippingMethodSerializer, OrderSerializer) = get_api_classes(
    "serializers.checkout", ["ShippingAddressSerializer", "ShippingMethodSerializer", "OrderSerializer"])
(LoginSerializer, RegisterUserSerializer) = get_api_classes(
    "serializers.login", ["LoginSerializer", "RegisterUserSerializer"])
REFUSAL = {"type": "object", "properties": {"reason": {"description": "A message, or the messages by field."}},
           "required": ["reason"]}

describe(api_root.cls, get=extend_schema(
    operation_id="api_root", summary="The addresses of the API's resources, by name.",
    responses={200: {"type": "object", "additionalProperties": {"type": "string", "format": "uri"}}}))

describe("oscarapi.views.basket.AddProductView", post=extend_schema(
    request=AddProductSerializer,
    responses={200: _answer(BasketSerializer, "The basket, with the product added."),
               406: _answer(REFUSAL, "Not added: not available in that quantity, or an invalid request.")}))

describe("oscarapi.views.basket.AddVoucherView", post=extend_schema(
    request=VoucherAddSerializer,
    responses={200: _answer(VoucherSerializer, "The voucher, applied to the basket."),
               406: _answer(VALIDATION_ERROR, "Not applied: no such voucher, or the basket does not qualify.")}))

describe(
    "oscarapi.views.basket.ShippingMethodView",
    get=extend_schema(responses={200: ShippingMethodSerializer(many=True)}),
    post=extend_schema(
        request=ShippingAddressSerializer,
        responses={200: _answer(ShippingMethodSerializer(many=True), "The methods for that address."),
                   406: _answer(VALIDATION_ERROR, "The address is not valid.")}),
)

describe(
    "shop.api.views.login.LoginView",  # oscarapi's, throttled by axes
    get=extend_schema(
        summary="Whether the session is logged in.",
        responses={204: _answer(None, "Logged in (OSCARAPI_EXPOSE_USER_DETAILS is off: no details)."),
                   405: _answer(ERROR, "Not logged in.")}),
    post=extend_schema(
        request=LoginSerializer,
        responses={200: _answer(EMPTY_STRING, "Logged in; the session's basket is merged into the user's."),
                   401: _answer(VALIDATION_ERROR, "Wrong user name or password."),
                   405: _answer(ERROR, "The session is logged in already: log out first."),
                   429: _answer(None, "Too many failed logins for this user name from this address.")}),
    delete=extend_schema(
        responses={200: _answer(EMPTY_STRING, "Logged out (an anonymous session's basket is deleted).")}),
)

describe("oscarapi.views.login.UserDetail", get=extend_schema(
    responses={204: _answer(None, "No details: OSCARAPI_EXPOSE_USER_DETAILS is off.")}))

describe("oscarapi.views.login.RegistrationView", post=extend_schema(
    request=RegisterUserSerializer,
    responses={201: _answer({"type": "string", "format": "email"}, "Registered: the account's email."),
               400: _answer(VALIDATION_ERROR, "Invalid input."),
               401: _answer({"type": "string"}, "Registration over the API is off (OSCARAPI_ENABLE_REGISTRATION): "
                                                "register on the site.")}))

describe("shop.api.views.checkout.CheckoutView", post=extend_schema(
    summary="Place an order from a basket: Pending payment until paid through /api/p6/orders/{number}/pay/.",
    responses={200: _answer(OrderSerializer, "The order, placed."),
               401: _answer({"type": "string"}, "The basket is not this session's."),
               406: _answer(VALIDATION_ERROR, "Not placed: invalid data, an unknown basket, or out of stock.")}))

describe("shop.api.views.admin.product.CategoryBulkAdminApi", **{method: extend_schema(
    summary="The category tree (admin API: refused while OSCARAPI_BLOCK_ADMIN_API_ACCESS is on).",
    request={"application/json": {"type": "array", "items": {"type": "object"}}},
    responses={200: {"type": "array", "items": {"type": "object"}}}) for method in ("get", "post")})
