"""The Stripe boundary (DESIGN "Stripe boundary").

`gateway` is the only module of the project that imports `stripe`; everything outside this package
sees plain dataclasses with Decimal amounts in major units. `signing` produces Stripe-Signature
headers for events Stripe (or localstripe) does not send by itself.
"""
