from django.apps import apps
from django.urls import include, path

# As Oscar's own sandbox: the i18n URLs (the base template's language form) and Oscar's URLs.
urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include(apps.get_app_config("oscar").urls[0])),
]
