"""P6 Shop settings, read from the environment.

Every knob a deployment turns is an environment variable (listed in the README). The defaults are
the newcomer's: a SQLite file under ``var/``, DEBUG off. With DEBUG off the settings are production
settings (HTTPS redirect, HSTS, secure cookies) and SECRET_KEY must come from the environment, so
``manage.py check --deploy`` passes as they stand.
"""

import os
from decimal import Decimal
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _
from oscar.defaults import *  # noqa: F401,F403  (Oscar's OSCAR_* defaults, overridden below)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("P6_VAR_DIR", BASE_DIR / "var"))


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no, on/off), not {value!r}")


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set in the environment when DEBUG is off")
    SECRET_KEY = "insecure-development-only-key-never-use-in-production-p6-shop"

# The key of the ledger's digests (HMAC-SHA256, fundraising.models.ledger): whoever can rewrite ledger rows without
# it cannot re-seal them unseen. Keep it off the database host; unset, it is derived from SECRET_KEY (and
# `manage.py check --deploy` warns).
FUNDRAISING_LEDGER_KEY = os.environ.get("P6_LEDGER_KEY", "")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# --- Database --------------------------------------------------------------------------------------
DEFAULT_DATABASE_URL = f"sqlite:///{VAR_DIR / 'p6shop.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Oscar writes from several requests at once (basket, session); wait for the lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    DATABASES["default"]["CONN_MAX_AGE"] = 0
# Chosen before the first migration and read by Oscar's migrations at migrate time: the ledger grows
# without bound, so every table gets 64-bit keys.
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ATOMIC_REQUESTS = False

# --- Applications ----------------------------------------------------------------------------------
INSTALLED_APPS = [
    # Before the admin and Oscar, as it asks: the catalogue and About page per language (catalog/translation.py).
    "modeltranslation",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.flatpages",
    "oscar.config.Shop",
    "oscar.apps.analytics.apps.AnalyticsConfig",
    "shop.checkout.apps.CheckoutConfig",
    "oscar.apps.address.apps.AddressConfig",
    "oscar.apps.shipping.apps.ShippingConfig",
    "oscar.apps.catalogue.apps.CatalogueConfig",
    "oscar.apps.catalogue.reviews.apps.CatalogueReviewsConfig",
    "oscar.apps.communication.apps.CommunicationConfig",
    "shop.partner.apps.PartnerConfig",
    "oscar.apps.basket.apps.BasketConfig",
    "oscar.apps.payment.apps.PaymentConfig",
    "shop.offer.apps.OfferConfig",
    "oscar.apps.order.apps.OrderConfig",
    "oscar.apps.customer.apps.CustomerConfig",
    "oscar.apps.search.apps.SearchConfig",
    "oscar.apps.voucher.apps.VoucherConfig",
    "oscar.apps.wishlists.apps.WishlistsConfig",
    "oscar.apps.dashboard.apps.DashboardConfig",
    "oscar.apps.dashboard.reports.apps.ReportsDashboardConfig",
    "oscar.apps.dashboard.users.apps.UsersDashboardConfig",
    "oscar.apps.dashboard.orders.apps.OrdersDashboardConfig",
    "oscar.apps.dashboard.catalogue.apps.CatalogueDashboardConfig",
    "oscar.apps.dashboard.offers.apps.OffersDashboardConfig",
    "oscar.apps.dashboard.partners.apps.PartnersDashboardConfig",
    "oscar.apps.dashboard.pages.apps.PagesDashboardConfig",
    "oscar.apps.dashboard.ranges.apps.RangesDashboardConfig",
    "oscar.apps.dashboard.reviews.apps.ReviewsDashboardConfig",
    "oscar.apps.dashboard.vouchers.apps.VouchersDashboardConfig",
    "oscar.apps.dashboard.communications.apps.CommunicationsDashboardConfig",
    "oscar.apps.dashboard.shipping.apps.ShippingDashboardConfig",
    # Oscar's dependencies
    "widget_tweaks",
    "haystack",
    "treebeard",
    "sorl.thumbnail",
    "django_tables2",
    # Login throttling (failed attempts per user name and address; see AXES_* below)
    "axes",
    # Headless API (django-oscar-api at /api/, ours at /api/p6/; see OSCARAPI_* below)
    "rest_framework",
    "oscarapi",
    "drf_spectacular",  # the API's OpenAPI schema at /api/schema/ (see SPECTACULAR_SETTINGS)
    "csp",  # django-csp: its checks of the Content-Security-Policy settings (shop.security.headers)
    # P6
    "shop.apps.ShopConfig",
    "shop.jobs.apps.JobsConfig",
    "shop.security.apps.SecurityConfig",
    "shop.security.dashboard.apps.SecurityDashboardConfig",
    "shop.pagecache.apps.PageCacheConfig",
    "shop.payments.apps.PaymentsConfig",
    "shop.payments.dashboard.apps.PaymentsDashboardConfig",
    "catalog.apps.CatalogConfig",
    "fundraising.dashboard.unit_costs.apps.UnitCostDashboardConfig",
    "fundraising.apps.FundraisingConfig",
    "fundraising.dashboard.apps.FundraisingDashboardConfig",
]

SITE_ID = 1

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy (with its per-request nonce) and Permissions-Policy: shop/security/headers.py.
    "shop.security.headers.SecurityHeadersMiddleware",
    # A NUL in the query string would reach PostgreSQL through views that read request.GET: 400 instead.
    "shop.middleware.RejectNulCharactersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "oscar.apps.basket.middleware.BasketMiddleware",
    "django.contrib.flatpages.middleware.FlatpageFallbackMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "shop.urls"
WSGI_APPLICATION = "shop.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "shop" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "oscar.apps.search.context_processors.search_form",
                "oscar.apps.checkout.context_processors.checkout",
                "oscar.apps.communication.notifications.context_processors.notifications",
                "oscar.core.context_processors.metadata",
                "shop.security.context_processors.csp_nonce",
            ],
        },
    }
]

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out user name/address before any password is checked.
    "shop.throttling.AxesBackend",
    "oscar.apps.customer.auth_backends.EmailBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_REDIRECT_URL = "/"
# Login throttling (django-axes) for every login form that authenticates through Django: the customer
# login (/accounts/login/), the dashboard (which sends staff there) and Django's admin. After
# AXES_FAILURE_LIMIT failures for one user name from one address, that pair is refused (HTTP 429) for
# AXES_COOLOFF_TIME hours; a successful login resets the count.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = int(os.environ.get("AXES_COOLOFF_HOURS", "1"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "shop.throttling.login_username"  # Oscar's prefixed form field too

HAYSTACK_CONNECTIONS = {"default": {"ENGINE": "haystack.backends.simple_backend.SimpleEngine"}}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "p6shop",
    }
}
# Several machines share one cache: Redis (django-redis) when REDIS_URL is set. A cache that cannot be
# reached must not take the shop down with it: reads miss and writes are dropped (IGNORE_EXCEPTIONS).
if os.environ.get("REDIS_URL"):
    CACHES["default"] = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": os.environ["REDIS_URL"],
        "KEY_PREFIX": "p6",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2, "IGNORE_EXCEPTIONS": True},
    }
# Sessions (and with them the basket and the checkout) and django-axes' failure counts live in the
# database, never in one process's memory: any node can serve any request.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"

# --- Internationalisation --------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French")), ("ru", _("Russian"))]
LOCALE_PATHS = [BASE_DIR / "locale"]

# The catalogue (titles, descriptions, categories, product types, attribute names, colour options) and the About
# page are stored per language by django-modeltranslation (catalog/translation.py): a `title_fr` column beside
# `title`, and so on. A field shows in the fan's language, English when it has no translation.
MODELTRANSLATION_DEFAULT_LANGUAGE = "en"
MODELTRANSLATION_LANGUAGES = ("en", "fr", "ru")
MODELTRANSLATION_FALLBACK_LANGUAGES = ("en",)
# The translated columns live in Oscar's catalogue tables and Django's flatpages table, whose migrations are in
# site-packages: ours are their migrations, copied unchanged, plus the ones adding the columns. An Oscar upgrade
# that adds a catalogue migration must have it copied here (catalog/catalogue_migrations/README).
MIGRATION_MODULES = {"catalogue": "catalog.catalogue_migrations", "flatpages": "catalog.flatpages_migrations"}
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"

# --- Static and media ------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
# Product images live in MEDIA_ROOT; a reverse proxy serves them in a larger deployment, or Django
# does (SERVE_MEDIA, on by default with DEBUG) for the demo and a single-box gunicorn install.
SERVE_MEDIA = env_bool("SERVE_MEDIA", DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Several machines: media in an S3-API bucket (django-storages) when MEDIA_BUCKET is set, so every node
# serves the same product images. Credentials come from the usual AWS_* variables (or the instance role).
MEDIA_BUCKET = os.environ.get("MEDIA_BUCKET", "")
if MEDIA_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": MEDIA_BUCKET,
            "endpoint_url": os.environ.get("MEDIA_ENDPOINT_URL") or None,  # unset = AWS; else MinIO, R2, moto
            "region_name": os.environ.get("MEDIA_REGION") or None,
            "custom_domain": os.environ.get("MEDIA_CUSTOM_DOMAIN") or None,  # a CDN in front of the bucket
            "querystring_auth": env_bool("MEDIA_SIGNED_URLS", False),  # product images are public
            "file_overwrite": False,
            "default_acl": None,
        },
    }
    SERVE_MEDIA = False
WHITENOISE_USE_FINDERS = DEBUG

# --- Security (production unless DEBUG) ------------------------------------------------------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_PROXY", False) else None
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else str(365 * 24 * 3600)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SESSION_COOKIE_SECURE = not DEBUG and SECURE_SSL_REDIRECT
CSRF_COOKIE_SECURE = not DEBUG and SECURE_SSL_REDIRECT
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CROSS_ORIGIN_OPENER_POLICY = os.environ.get("SECURE_CROSS_ORIGIN_OPENER_POLICY", "same-origin") or None
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# Content-Security-Policy (django-csp 4; shop/security/headers.py, README "Security headers"): our origin only, inline
# scripts and <style> elements only with the request's nonce; the payment page adds Stripe's origins itself.
# Style attributes stay allowed (style-src-attr): they cannot run script, and Oscar's templates and its jQuery
# plugins set them; a nonce cannot be given to an attribute.
from csp.constants import NONCE, NONE, SELF  # noqa: E402

SECURITY_CSP_REPORT_URL = "/security/csp-report/"


def _media_origins():
    origins = env_list("CSP_IMG_SRC")
    if os.environ.get("MEDIA_CUSTOM_DOMAIN"):
        origins.append(f"https://{os.environ['MEDIA_CUSTOM_DOMAIN']}")
    elif os.environ.get("MEDIA_ENDPOINT_URL"):
        origins.append(os.environ["MEDIA_ENDPOINT_URL"].rstrip("/"))
    elif MEDIA_BUCKET:
        origins.append(f"https://{MEDIA_BUCKET}.s3.amazonaws.com")
        if os.environ.get("MEDIA_REGION"):
            origins.append(f"https://{MEDIA_BUCKET}.s3.{os.environ['MEDIA_REGION']}.amazonaws.com")
    return origins


_CSP = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": [SELF, "data:", *_media_origins()],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-src": [NONE],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        # report-uri only: Chromium ignores report-uri when report-to is present, and sends report-to's reports
        # in batches up to a minute late; Firefox and Safari have no report-to for CSP. The endpoint takes both.
        "report-uri": [SECURITY_CSP_REPORT_URL],
    },
}
# CSP_REPORT_ONLY=1 sends the policy as Content-Security-Policy-Report-Only (reported, not enforced): for trying
# a change of policy on the live shop first.
if env_bool("CSP_REPORT_ONLY", False):
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _CSP
else:
    CONTENT_SECURITY_POLICY = _CSP
# The report endpoint (shop/security/reports.py): bounded per request, per client address and in rows; a
# violation on a page matching SECURITY_CSP_ALERT_PATHS (the payment page) emails SHOP_ALERT_EMAIL, at most once an
# interval per violation and SECURITY_CSP_ALERTS_PER_HOUR in all (the endpoint is public: forged reports must not
# flood the staff's mailbox).
SECURITY_CSP_REPORT_MAX_BYTES = int(os.environ.get("SECURITY_CSP_REPORT_MAX_BYTES", "8192"))
SECURITY_CSP_REPORTS_PER_MINUTE = int(os.environ.get("SECURITY_CSP_REPORTS_PER_MINUTE", "30"))
SECURITY_CSP_MAX_DISTINCT = int(os.environ.get("SECURITY_CSP_MAX_DISTINCT", "1000"))
SECURITY_CSP_ALERT_PATHS = [r"^/checkout/pay/[^/]+/$"]
SECURITY_CSP_ALERT_INTERVAL_SECONDS = int(os.environ.get("SECURITY_CSP_ALERT_INTERVAL_SECONDS", "3600"))
SECURITY_CSP_ALERTS_PER_HOUR = int(os.environ.get("SECURITY_CSP_ALERTS_PER_HOUR", "10"))
# Powerful browser features: none but payment, and that only for Stripe's frame (Payment Request, Apple Pay).
SECURITY_PERMISSIONS_POLICY = os.environ.get(
    "PERMISSIONS_POLICY",
    'payment=("https://js.stripe.com"), camera=(), microphone=(), geolocation=(), usb=()',
)

EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)  # STARTTLS (port 587)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)  # implicit TLS (port 465)
# A slow or dead SMTP server holds a worker for at most this long (the email is retried later).
EMAIL_TIMEOUT = float(os.environ.get("EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "shop@p6.example.org")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Oscar logs each checkout step's payload at INFO; keep personal data out of the logs.
        "oscar.checkout": {"level": "WARNING"},
        "oscar.alerts": {"level": "WARNING"},
        # stripe-python logs every request at INFO; requests carry ids and amounts, never more than WARNING here.
        "stripe": {"level": "WARNING"},
        # django-axes announces its configuration at INFO on every start, which would pollute commands' stderr.
        "axes": {"level": "WARNING"},
    },
}

# --- Oscar -----------------------------------------------------------------------------------------
OSCAR_SHOP_NAME = "P6 Shop"
OSCAR_SHOP_TAGLINE = _("Principle 6 — the Olympic Charter says no to discrimination")
OSCAR_HOMEPAGE = reverse_lazy("p6-home")
OSCAR_DEFAULT_CURRENCY = os.environ.get("SHOP_CURRENCY", "USD").upper()
OSCAR_FROM_EMAIL = DEFAULT_FROM_EMAIL
OSCAR_ALLOW_ANON_CHECKOUT = True
OSCAR_THUMBNAILER = "oscar.core.thumbnails.SorlThumbnail"
OSCAR_MISSING_IMAGE_URL = "image_not_found.jpg"
OSCAR_PRODUCTS_PER_PAGE = 24
# Product reviews are not part of this campaign shop: nobody moderates them, and Oscar's defaults would
# publish anonymous reviews at once. Hiding the feature removes the stars, the review block and the
# "write a review" link from fan pages, and the reviews URLs themselves (Oscar drops a hidden app's URLs).
OSCAR_HIDDEN_FEATURES = ["reviews"]
# Every discount is a whole number of what Stripe can charge (shop/offer/benefits.py); Benefit.round spreads
# absolute and bundle discounts over lines in that unit rather than Oscar's hard-coded 0.01.
OSCAR_OFFER_ROUNDING_FUNCTION = "shop.offer.benefits.round_share"
OSCAR_INITIAL_ORDER_STATUS = "Pending payment"
OSCAR_INITIAL_LINE_STATUS = "Pending payment"
# Order flow (DESIGN "A sale, end to end"): the order exists before the money does.
OSCAR_ORDER_STATUS_PIPELINE = {
    "Pending payment": ("Paid", "Cancelled"),
    "Paid": ("Being processed", "Refunded", "Cancelled"),
    "Being processed": ("Shipped", "Refunded", "Cancelled"),
    "Shipped": ("Refunded",),
    "Refunded": (),
    "Cancelled": (),
}
OSCAR_LINE_STATUS_PIPELINE = OSCAR_ORDER_STATUS_PIPELINE
# Staff get only the fulfilment steps of this pipeline in the dashboard (shop/payments/dashboard/status.py).
OSCAR_DYNAMIC_CLASS_LOADER = "shop.loading.class_loader"
# Statuses in which an order's money has been captured: payments and the ledger's verify_ledger read this.
SHOP_PAID_ORDER_STATUSES = ("Paid", "Being processed", "Shipped", "Refunded")
OSCAR_ORDER_STATUS_CASCADE = {"Paid": "Paid", "Cancelled": "Cancelled", "Shipped": "Shipped", "Refunded": "Refunded"}

OSCAR_DASHBOARD_NAVIGATION = list(OSCAR_DASHBOARD_NAVIGATION)  # noqa: F405  (from oscar.defaults)
OSCAR_DASHBOARD_NAVIGATION.append(
    {
        "label": _("P6 catalogue"),
        "icon": "fas fa-tshirt",
        "children": [
            {"label": _("Unit costs"), "url_name": "catalog-dashboard:unit-cost-list"},
        ],
    }
)
OSCAR_DASHBOARD_NAVIGATION.append(
    {
        "label": _("Payments"),
        "icon": "fas fa-credit-card",
        "children": [
            {"label": _("Excess payments"), "url_name": "payments-dashboard:excess-list"},
            {"label": _("Stripe events"), "url_name": "payments-dashboard:webhook-events"},
            {"label": _("Emails to fans"), "url_name": "payments-dashboard:email-list"},
            {"label": _("Scheduled jobs"), "url_name": "payments-dashboard:job-runs"},
            {"label": _("Security reports"), "url_name": "security-dashboard:csp-violations"},
        ],
    }
)
# Every entry points at a URL of fundraising.dashboard (an OscarDashboardConfig): Oscar hides each one
# from staff without its permission (fundraising.view_ledger / fundraising.record_disbursement).
OSCAR_DASHBOARD_NAVIGATION.append(
    {
        "label": _("Fundraising"),
        "icon": "fas fa-hand-holding-heart",
        "children": [
            {"label": _("Overview"), "url_name": "fundraising-dashboard:overview"},
            {"label": _("Ledger"), "url_name": "fundraising-dashboard:ledger"},
            {"label": _("Beneficiary statement"), "url_name": "fundraising-dashboard:statement"},
            {"label": _("Disbursements"), "url_name": "fundraising-dashboard:disbursement-list"},
            {"label": _("Beneficiaries"), "url_name": "fundraising-dashboard:beneficiary-list"},
            {"label": _("Share rules"), "url_name": "fundraising-dashboard:rule-list"},
            {"label": _("Campaign goal"), "url_name": "fundraising-dashboard:goal"},
            {"label": _("Partner sales"), "url_name": "fundraising-dashboard:partner-import"},
        ],
    }
)

# --- Headless API (django-oscar-api) --------------------------------------------------------------
# No product/partner/user administration over the API: the dashboard does that, behind its permissions.
OSCARAPI_BLOCK_ADMIN_API_ACCESS = True
# API orders are placed like storefront orders: pending until paid through /api/p6/orders/<n>/pay/.
OSCARAPI_INITIAL_ORDER_STATUS = OSCAR_INITIAL_ORDER_STATUS
# oscarapi loads shop.api.views.checkout.CheckoutView (stock lock + donation snapshot) in place of its own.
OSCARAPI_OVERRIDE_MODULES = ["shop.api"]
# The OpenAPI 3 schema of all of /api/ (oscarapi's endpoints and ours), generated by drf-spectacular from the
# views and their serializers and served at /api/schema/; shop/api/openapi.py fills in what it cannot guess.
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Path parameters keep the URLconf's names ({pk}, {number}), as in the URLs a client builds.
    "SCHEMA_COERCE_PATH_PK": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "P6 Shop API",
    "VERSION": "1",
    "DESCRIPTION": (
        "Products, basket and checkout are django-oscar-api's (its own session or token auth; no admin API); "
        "/api/p6/ holds P6's own endpoints: paying an order, donation figures, the public totals. Orders are "
        "visible to their customer or to the session that placed them; to anyone else they do not exist (404)."
    ),
    # Request and response bodies as separate components: oscarapi's serializers have read-only and
    # write-only fields, so one component would describe neither direction exactly.
    "COMPONENT_SPLIT_REQUEST": True,
    # `check --deploy` would generate the schema and warn about oscarapi's untyped serializer methods (not ours);
    # the schema is checked by tests/api/test_schema.py and the schemathesis run instead.
    "ENABLE_DJANGO_DEPLOY_CHECK": False,
    "SCHEMA_PATH_PREFIX": r"/api/",
    "PREPROCESSING_HOOKS": ["shop.api.openapi.preprocess"],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "shop.api.openapi.postprocess"],
}

# --- P6 --------------------------------------------------------------------------------------------
SHOP_CURRENCY = OSCAR_DEFAULT_CURRENCY
# Country of the demo shop's shipping addresses; `oscar_populate_countries` loads them all.
SHOP_SHIPPING_COUNTRIES = env_list("SHOP_SHIPPING_COUNTRIES", "US,CA,GB,FR,DE,NL,SE,RU")

# --- Stripe (DESIGN "Stripe boundary") -------------------------------------------------------------
STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
STRIPE_PUBLISHABLE_KEY = os.environ.get("STRIPE_PUBLISHABLE_KEY", "")
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "")  # unset = real Stripe
# "localstripe" when STRIPE_API_BASE is the demo's localstripe: the gateway then leaves out the parameters
# it refuses and ignores the fee of 0 it reports (the fee schedule estimates it instead).
STRIPE_PEER = os.environ.get("STRIPE_PEER", "stripe")
STRIPE_TIMEOUT = float(os.environ.get("STRIPE_TIMEOUT", "10"))
STRIPE_MAX_NETWORK_RETRIES = int(os.environ.get("STRIPE_MAX_NETWORK_RETRIES", "2"))
STRIPE_FEE_PERCENT = Decimal(os.environ.get("STRIPE_FEE_PERCENT", "2.9"))
STRIPE_FEE_FIXED = Decimal(os.environ.get("STRIPE_FEE_FIXED", "0.30"))
# Card-testing defence: failed payment attempts allowed per order and per client address in an hour.
SHOP_PAY_FAILURES_PER_ORDER = int(os.environ.get("SHOP_PAY_FAILURES_PER_ORDER", "5"))
SHOP_PAY_FAILURES_PER_ADDRESS = int(os.environ.get("SHOP_PAY_FAILURES_PER_ADDRESS", "20"))
# How long a pay request may hold an order's payment lease (longer than Stripe's timeout x retries).
SHOP_PAY_LEASE_SECONDS = int(os.environ.get("SHOP_PAY_LEASE_SECONDS", "120"))

# --- Background work (DESIGN "Background work, and more than one machine") --------------------------
# Celery with Redis as the broker. Unset (the demo default): tasks run inline after the commit, webhooks
# are processed inside Stripe's request, and nothing more is needed on a fresh machine.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
# A task is acknowledged when it finishes, so a worker killed mid-task leaves it to another worker
# (tasks are idempotent); prefetch one at a time so a long task does not hold others back.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis redelivers an unacknowledged message after this long (longer than any task and retry countdown).
# Every read from and connection to Redis is bounded: a Redis that accepts and never answers (hung, or a
# proxy in front of a dead one) otherwise holds a request's enqueue forever (the sweep sends it later).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_timeout": 5, "socket_connect_timeout": 5}
CELERY_TIMEZONE = TIME_ZONE
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "reconcile-payments": {"task": "shop.jobs.tasks.reconcile_payments", "schedule": 5 * 60.0},
    "cancel-unpaid-orders": {"task": "shop.jobs.tasks.cancel_unpaid_orders", "schedule": 15 * 60.0},
    "checkpoint-ledger": {"task": "shop.jobs.tasks.checkpoint_ledger", "schedule": 60 * 60.0},
    "record-ledger-head": {"task": "shop.jobs.tasks.record_ledger_head", "schedule": 60 * 60.0},
    "verify-ledger": {"task": "shop.jobs.tasks.verify_ledger", "schedule": 24 * 60 * 60.0},
    "sweep": {"task": "shop.jobs.tasks.sweep", "schedule": 60.0},
}
# Webhook events: retried after 10 s, 20 s, 40 s... (at most the cap), failed for good after the attempts.
SHOP_WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("SHOP_WEBHOOK_MAX_ATTEMPTS", "8"))
SHOP_WEBHOOK_RETRY_SECONDS = float(os.environ.get("SHOP_WEBHOOK_RETRY_SECONDS", "10"))
SHOP_WEBHOOK_RETRY_CAP_SECONDS = float(os.environ.get("SHOP_WEBHOOK_RETRY_CAP_SECONDS", "900"))
# Emails: retried after 30 s, 60 s... (at most an hour), failed for good after the attempts.
SHOP_EMAIL_MAX_ATTEMPTS = int(os.environ.get("SHOP_EMAIL_MAX_ATTEMPTS", "10"))
SHOP_EMAIL_RETRY_SECONDS = float(os.environ.get("SHOP_EMAIL_RETRY_SECONDS", "30"))
# The sweep re-enqueues work not done this long after it was due (a message lost in the broker).
SHOP_SWEEP_AFTER_SECONDS = int(os.environ.get("SHOP_SWEEP_AFTER_SECONDS", "180"))
# cancel_unpaid_orders' age in the schedule; verify_ledger's violations are emailed here (comma-separated).
SHOP_CANCEL_UNPAID_AFTER_MINUTES = int(os.environ.get("SHOP_CANCEL_UNPAID_AFTER_MINUTES", "60"))
SHOP_ALERT_EMAIL = os.environ.get("SHOP_ALERT_EMAIL", "")

# Fan pages (home, catalogue, categories, product pages) cached whole for anonymous visitors with an empty
# basket, at most this long (0 turns the page cache off); shop/pagecache/pages.py says what invalidates them.
SHOP_PAGE_CACHE_SECONDS = int(os.environ.get("SHOP_PAGE_CACHE_SECONDS", "300"))

# Shipping (shop/shipping.py): a new shipping address starts in this country unless the fan's language names one
# (fr -> FR, ru -> RU); baskets whose total (excl. tax, after discounts) reaches SHOP_FREE_SHIPPING_OVER ship
# free (empty: never). The rates by zone and weight are Oscar's weight-based methods, seeded by
# load_p6_catalogue and edited by staff in the dashboard (Fulfilment > Shipping charges). Prices include all
# taxes (shop/partner/strategy.py): no tax is added at checkout for any destination.
SHOP_DEFAULT_COUNTRY = os.environ.get("SHOP_DEFAULT_COUNTRY", "US")
SHOP_FREE_SHIPPING_OVER = os.environ.get("SHOP_FREE_SHIPPING_OVER", "100.00")
# Oscar leaves its "Shipping charges" dashboard out of the menu (weight-based methods are not in its default
# repository); ours uses them, so staff find them under Fulfilment. A copy: oscar.defaults' dicts stay untouched.
OSCAR_DASHBOARD_NAVIGATION = [
    {**entry, "children": [*entry["children"], {"label": _("Shipping charges"),
                                                "url_name": "dashboard:shipping-method-list"}]}
    if entry.get("url_name") is None and "children" in entry
    and any(child.get("url_name") == "dashboard:order-list" for child in entry["children"])
    else entry
    for entry in OSCAR_DASHBOARD_NAVIGATION
]
