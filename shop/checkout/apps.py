from django.urls import path
from oscar.apps.checkout import apps


class CheckoutConfig(apps.CheckoutConfig):
    name = "shop.checkout"

    def ready(self):
        super().ready()
        from shop.checkout import analytics, stocksignals, views

        # Oscar's receivers that query once per order line or stock record, replaced by bulk equivalents.
        stocksignals.connect()
        analytics.connect()

        self.pay_view = views.PayView

    def get_urls(self):
        urls = super().get_urls()
        urls += self.post_process_urls([path("pay/<str:order_number>/", self.pay_view.as_view(), name="pay")])
        return urls
