from django.urls import path

from fundraising import views

app_name = "fundraising"

urlpatterns = [
    path("", views.TransparencyView.as_view(), name="transparency"),
    path("totals.json", views.totals_json, name="totals-json"),
    path("ledger/", views.LedgerView.as_view(), name="ledger"),
    path("ledger.json", views.ledger_json, name="ledger-json"),
    path("ledger/head.json", views.head_json, name="ledger-head"),
]
