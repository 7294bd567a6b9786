"""The payment page's scripts, each with why it is there (PCI DSS 4.0.1 requirement 6.4.3's inventory).

The README's "Security headers" section lists the same scripts; tests/security/test_headers.py fails when the
payment page runs a script that is not here, when a local one has no integrity hash or a wrong one, and when the
README does not list one. Adding a script to the payment page means adding it here, with its reason, first.
"""

#: The Stripe.js entry's key: its address depends on the Stripe peer (js.stripe.com, or localstripe's stand-in).
STRIPE_JS = "Stripe.js"
#: The page's one inline script, allowed by the request's nonce only.
INLINE_INIT = "inline: page initialisation"

PAYMENT_PAGE_SCRIPTS = {
    "oscar/js/jquery/jquery.min.js": "jQuery, the shop's own copy: Bootstrap and Oscar's storefront script need it.",
    "oscar/js/bootstrap4/bootstrap.bundle.min.js": "Bootstrap: the header's drop-downs (basket, account, language).",
    "oscar/js/oscar/ui.js": "Oscar's storefront behaviour, started by the page initialisation (oscar.init).",
    "shop/actions.js": "The shop's print and back links (what Oscar did with inline handlers the policy refuses).",
    "shop/pay.js": "The card form: mounts Stripe's card field, sends the payment method to our pay URL, handles "
                   "3D Secure and shows declines.",
    STRIPE_JS: "Stripe's card field: card details go to Stripe, never to the shop. Loaded from Stripe's origin as "
               "Stripe requires, so it carries no integrity hash (Stripe updates it in place); the policy allows "
               "only Stripe's origins, on this page only.",
    INLINE_INIT: "jQuery's ready handler calling oscar.init(); runs only with the request's nonce.",
}
