from django.urls import path

from fundraising import views

app_name = "fundraising"

urlpatterns = [
    path("", views.TransparencyView.as_view(), name="transparency"),
    path("totals.json", views.totals_json, name="totals-json"),
]
