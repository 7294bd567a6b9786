"""The headless API: django-oscar-api at /api/ (products, basket, checkout) and our JSON endpoints at /api/p6/.

`OSCARAPI_OVERRIDE_MODULES = ["shop.api"]` makes oscarapi load `shop.api.views.checkout.CheckoutView`
in place of its own, so an API checkout places the order exactly like the storefront's "Place order".
"""
