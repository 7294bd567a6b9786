from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView

from shop import browse, views
from shop.favicon import favicon
from shop.jobs.health import healthz
from shop.payments import webhooks
from shop.security import reports

urlpatterns = [
    path("", views.HomeView.as_view(), name="p6-home"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("about-p6/", views.AboutView.as_view(), name="about-p6"),
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    # Database-backed browsing in place of Oscar's Haystack views (see shop/browse.py): same paths, so
    # reverse("catalogue:index") and friends land here.
    path("catalogue/", browse.CatalogueView.as_view()),
    re_path(r"^catalogue/(?P<product_slug>[\w-]*)_(?P<pk>\d+)/$", browse.ProductDetailView.as_view()),
    re_path(r"^catalogue/category/(?P<category_slug>[\w-]+(/[\w-]+)*)_(?P<pk>\d+)/$",
            browse.ProductCategoryView.as_view()),
    path("search/", browse.ProductSearchView.as_view()),
    # Our dashboard sections sit beside Oscar's (never fork `dashboard`); their nav entries are in settings.
    path("dashboard/unit-costs/", apps.get_app_config("catalog_dashboard").urls),
    path("dashboard/payments/", apps.get_app_config("payments_dashboard").urls),
    path("dashboard/security/", apps.get_app_config("security_dashboard").urls),
    path("dashboard/fundraising/", apps.get_app_config("fundraising_dashboard").urls),
    # Public transparency page and its JSON (no personal data).
    path("fundraising/", include("fundraising.urls")),
    # Outside the checkout app: with anonymous checkout off, Oscar wraps every checkout URL in login_required.
    path("payments/stripe/webhook/", webhooks.stripe_webhook, name="stripe-webhook"),
    # Where browsers report Content-Security-Policy violations (report-uri and report-to).
    path("security/csp-report/", reports.csp_report, name="csp-report"),
    # Headless API: ours first, then django-oscar-api (products, basket, checkout; its checkout view is
    # ours, through OSCARAPI_OVERRIDE_MODULES).
    path("api/p6/", include("shop.api.urls")),
    # The OpenAPI schema of all of /api/, generated (YAML; ?format=json or Accept: application/json for JSON).
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/", include("oscarapi.urls")),
    path("", include(apps.get_app_config("oscar").urls[0])),
]

if settings.SERVE_MEDIA:
    urlpatterns.insert(
        0,
        re_path(r"^%s(?P<path>.*)$" % settings.MEDIA_URL.lstrip("/"), serve, {"document_root": settings.MEDIA_ROOT}),
    )
