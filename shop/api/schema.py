"""OpenAPI 3 description of our endpoints under /api/p6/ (oscarapi's own endpoints are described by oscarapi).

Written by hand and kept next to the views it describes (shop/api/p6.py); tests/api/test_schemathesis.py
checks the two against each other.
"""

from django.http import JsonResponse

NUMBER = {"name": "number", "in": "path", "required": True,
          "schema": {"type": "string", "pattern": "^[A-Za-z0-9-]{1,128}$", "minLength": 1, "maxLength": 128},
          "description": "The order number."}
MONEY = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
NULLABLE_MONEY = {**MONEY, "nullable": True}


def _error(description):
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _pay_answer(description):
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PayOutcome"}}}}


def _json(description, ref):
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


SCHEMA = {
    "openapi": "3.0.3",
    "info": {
        "title": "P6 Shop API",
        "version": "1",
        "description": (
            "P6's own endpoints. Products, basket and checkout are django-oscar-api's, at /api/. "
            "Orders are visible to their customer or to the session that placed them; to anyone else they "
            "do not exist (404)."
        ),
    },
    "paths": {
        "/api/p6/orders/{number}/pay/": {
            "post": {
                "operationId": "payOrder",
                "summary": "Pay an order: a new attempt with a PaymentMethod id, or check an attempt after 3D Secure.",
                "parameters": [NUMBER],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PayRequest"}}},
                },
                "responses": {
                    "200": _pay_answer("Paid (`succeeded`), or 3D Secure is needed (`requires_action`, "
                                       "with `client_secret` and `intent`)."),
                    "202": _pay_answer("Stripe is still processing the payment (`processing`); ask again later."),
                    "400": _pay_answer("Nothing usable was sent (`invalid`)."),
                    "402": _pay_answer("The card was declined (`declined`); the order stays payable."),
                    "403": _error("A logged-in session without its CSRF token."),
                    "404": _error("No such order (or not yours)."),
                    "409": _pay_answer("The order cannot be paid now (`not_payable`), or another payment for it "
                                       "is in progress (`in_progress`)."),
                    "415": _error("Not JSON."),
                    "429": _pay_answer("Too many declined payments for this order or from this address in the "
                                       "last hour (`too_many_attempts`); try again later."),
                    "503": _pay_answer("Stripe could not be reached (`error`); try again."),
                },
            }
        },
        "/api/p6/orders/{number}/donation/": {
            "get": {
                "operationId": "orderDonation",
                "summary": "The donation posted for an order (null until it is paid).",
                "parameters": [NUMBER],
                "responses": {
                    "200": _json("The order's donation.", "#/components/schemas/OrderDonation"),
                    "404": _error("No such order (or not yours)."),
                },
            }
        },
        "/api/p6/products/{pk}/donation/": {
            "get": {
                "operationId": "productDonation",
                "summary": "The estimated donation of one item of a product, as its page shows it.",
                "parameters": [{"name": "pk", "in": "path", "required": True,
                                "schema": {"type": "integer", "minimum": 0, "maximum": 999999999999999999}}],
                "responses": {
                    "200": _json("The estimate (nulls when no share rule or no price applies).",
                                 "#/components/schemas/ProductDonation"),
                    "404": _error("No such public product."),
                },
            }
        },
        "/api/p6/totals/": {
            "get": {
                "operationId": "totals",
                "summary": "The public fundraising totals, as /fundraising/totals.json.",
                "responses": {"200": _json("The totals.", "#/components/schemas/Totals")},
            }
        },
    },
    "components": {
        "schemas": {
            "Error": {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "string"}}},
            "PayRequest": {
                "type": "object",
                "properties": {
                    "payment_method": {"type": "string", "maxLength": 255,
                                       "description": "A PaymentMethod id (Stripe.js), e.g. pm_card_visa."},
                    "intent": {"type": "string", "maxLength": 255,
                               "description": "The intent of an attempt that asked for 3D Secure."},
                },
            },
            "PayOutcome": {
                "type": "object",
                "required": ["status", "message"],
                "properties": {
                    "status": {"type": "string",
                               "enum": ["succeeded", "requires_action", "processing", "declined", "error",
                                        "invalid", "not_payable", "in_progress", "too_many_attempts"]},
                    "message": {"type": "string"},
                    "client_secret": {"type": "string", "nullable": True},
                    "intent": {"type": "string"},
                },
            },
            "OrderDonation": {
                "type": "object",
                "required": ["number", "status", "posted", "donation", "currency"],
                "properties": {
                    "number": {"type": "string"},
                    "status": {"type": "string"},
                    "posted": {"type": "boolean"},
                    "donation": NULLABLE_MONEY,
                    "currency": {"type": "string"},
                },
            },
            "ProductDonation": {
                "type": "object",
                "required": ["product", "share_percent", "donation_per_item", "currency", "is_from"],
                "properties": {
                    "product": {"type": "integer"},
                    "share_percent": NULLABLE_MONEY,
                    "donation_per_item": NULLABLE_MONEY,
                    "currency": {"type": "string", "nullable": True},
                    "is_from": {"type": "boolean"},
                },
            },
            "Totals": {
                "type": "object",
                "required": ["schema", "generated_at", "last_updated", "currencies"],
                "properties": {
                    "schema": {"type": "string", "enum": ["p6-fundraising-totals/1"]},
                    "generated_at": {"type": "string", "format": "date-time"},
                    "last_updated": {"type": "string", "format": "date-time", "nullable": True},
                    "currencies": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["currency", "raised", "reversed", "net_raised", "disbursed", "payable",
                                         "items_sold", "goal", "goal_progress_percent", "beneficiaries"],
                            "properties": {
                                "currency": {"type": "string"},
                                "raised": MONEY,
                                "reversed": MONEY,
                                "net_raised": MONEY,
                                "disbursed": MONEY,
                                "payable": MONEY,
                                "items_sold": {"type": "integer"},
                                "goal": NULLABLE_MONEY,
                                "goal_progress_percent": NULLABLE_MONEY,
                                "beneficiaries": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["slug", "name", "raised", "net_raised", "disbursed",
                                                     "payable"],
                                        "properties": {
                                            "slug": {"type": "string"},
                                            "name": {"type": "string"},
                                            "country": {"type": "string"},
                                            "raised": MONEY,
                                            "reversed": MONEY,
                                            "net_raised": MONEY,
                                            "disbursed": MONEY,
                                            "payable": MONEY,
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}


def schema_view(request):
    if request.method not in ("GET", "HEAD"):
        return JsonResponse({"detail": "Method not allowed."}, status=405)
    return JsonResponse(SCHEMA)
