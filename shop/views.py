from django.views.generic import ListView, TemplateView
from oscar.core.loading import get_model

Product = get_model("catalogue", "Product")


class HomeView(ListView):
    """The P6 home page: what the campaign is, and every product on sale."""

    template_name = "shop/home.html"
    context_object_name = "products"

    def get_queryset(self):
        return (
            Product.objects.browsable()
            .base_queryset()
            .order_by("date_created", "pk")
        )


class AboutView(TemplateView):
    """What Principle 6 is and where the money goes."""

    template_name = "shop/about.html"
