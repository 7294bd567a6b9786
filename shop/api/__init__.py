"""The headless API: django-oscar-api at /api/ (products, basket, checkout), our JSON endpoints at /api/p6/
(p6.py, bodies in serializers/p6.py) and the OpenAPI schema of both at /api/schema/ (openapi.py).

`OSCARAPI_OVERRIDE_MODULES = ["shop.api"]` makes oscarapi load its classes from modules here when they exist:
`shop.api.views.checkout.CheckoutView` in place of its own, so an API checkout places the order exactly like
the storefront's "Place order", and in views/ the few views whose bugs the schema's test run found.
"""
