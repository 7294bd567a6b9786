"""Order first, money second (DESIGN "A sale, end to end").

Oscar takes payment *before* it writes the order. Here the preview's "Place order" writes the order in
*Pending payment* (stock allocated, donation snapshot taken, basket submitted) and sends the fan to the
payment page, where Stripe.js turns the card into a PaymentMethod id and the server creates and
confirms a PaymentIntent. The card number never reaches this server.

A fan who leaves the payment page finds the way back (DESIGN step 3): the order-placed email, sent at
placement while the order waits for its money, carries a "Complete payment" link; the account's order page
and Oscar's guest order-status page show what is owed with the same button. A guest's link carries Oscar's
verification hash, which `order_for_request` accepts for guest orders only.
"""

import logging

from axes.helpers import get_client_ip_address
from django import http
from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import generic
from oscar.apps.checkout import views as oscar_views
from oscar.core.loading import get_model

from shop.security.headers import allow_stripe
from shop.checkout import declines, emails, orders, placement
from shop.checkout.stock import OutOfStock
from shop.payments import services as payments

logger = logging.getLogger("shop.checkout")

Order = get_model("order", "Order")

PAYABLE_ORDERS_SESSION_KEY = "p6_payable_orders"


class ShippingMethodView(oscar_views.ShippingMethodView):
    """The shipping rate is shown before the preview: Oscar skips this step whenever one method applies, which
    with one zone per country (shop/shipping.py) is always; here only a single *free* method is skipped, and a
    charged one is shown with its cost for the fan to select."""

    def get(self, request, *args, **kwargs):
        if request.basket.is_shipping_required() and self.checkout_session.is_shipping_address_set():
            methods = self.get_available_shipping_methods()
            if len(methods) == 1 and methods[0].calculate(request.basket).incl_tax > 0:
                self._methods = methods
                return super(oscar_views.ShippingMethodView, self).get(request, *args, **kwargs)
        return super().get(request, *args, **kwargs)


class PaymentMethodView(oscar_views.PaymentMethodView):
    """Cards only: straight on to the preview (the card is taken after the order is placed)."""

    def get_success_url(self):
        return reverse("checkout:preview")


class PaymentDetailsView(oscar_views.PaymentDetailsView):
    def get(self, request, *args, **kwargs):
        if not self.preview:
            # Nothing to collect before the order exists: the card is taken on the payment page.
            return redirect("checkout:preview")
        return super().get(request, *args, **kwargs)

    def get_initial_order_status(self, basket):
        return payments.PENDING

    def handle_payment(self, order_number, total, **kwargs):
        # No money moves before the order exists (see module docstring).
        return None

    def place_order(self, *args, **kwargs):
        # The one placement path (stock locked, order written, donation snapshot, one transaction). An
        # OutOfStock is Oscar's UnableToPlaceOrder, shown on the preview with the basket restored.
        def write_order():
            return super(PaymentDetailsView, self).place_order(*args, **kwargs)

        return placement.place_order(basket=kwargs["basket"], write_order=write_order)

    def handle_order_placement(self, order_number, *args, **kwargs):
        try:
            return super().handle_order_placement(order_number, *args, **kwargs)
        except OutOfStock as exc:
            # A fan beaten to the last units: an expected outcome of a sale (dozens a minute in a flash
            # sale), not the ERROR with a traceback Oscar logs for any UnableToPlaceOrder. The same page.
            logger.info("Order #%s not placed: %s", order_number, exc)
            self.restore_frozen_basket()
            return self.render_preview(self.request, error=str(exc))

    def handle_successful_order(self, order):
        # This email says the order waits for its money and links to the payment page; the confirmation is
        # sent when the money is in (payments.payment_captured).
        emails.owe_pending_order_email(order=order)
        self.checkout_session.flush()
        self.request.session["checkout_order_id"] = order.id
        remember_payable_order(self.request, order)
        response = http.HttpResponseRedirect(reverse("checkout:pay", kwargs={"order_number": order.number}))
        self.send_signal(self.request, response, order)
        return response


def remember_payable_order(request, order):
    numbers = request.session.get(PAYABLE_ORDERS_SESSION_KEY, [])
    if str(order.number) not in numbers:
        request.session[PAYABLE_ORDERS_SESSION_KEY] = (numbers + [str(order.number)])[-20:]


def order_for_request(request, order_number, *, verification_hash=""):
    """The order if this visitor may pay it: its customer, or the guest session that placed it or opened its
    link (Oscar's verification hash of a *guest* order, then remembered in the session). 404 otherwise
    (another customer's order is indistinguishable from one that does not exist)."""
    order = get_object_or_404(Order, number=order_number)
    if order.user_id is not None:
        if request.user.is_authenticated and request.user.pk == order.user_id:
            return order
    elif str(order.number) in request.session.get(PAYABLE_ORDERS_SESSION_KEY, []):
        return order
    elif verification_hash and order.check_verification_hash(verification_hash):
        remember_payable_order(request, order)
        return order
    raise http.Http404(_("No such order."))


class PayView(generic.TemplateView):
    """The payment page of a placed order: GET shows the card form; POST pays.

    POST fields: `payment_method` (a PaymentMethod id from Stripe.js) to make a new attempt, or
    `intent` to check an attempt again after 3D Secure. Answers JSON to the page's script
    (Accept: application/json) and redirects or re-renders for a plain form post.
    """

    template_name = "oscar/checkout/pay.html"

    def dispatch(self, request, *args, **kwargs):
        link_hash = request.GET.get("h", "") if request.method == "GET" else ""
        self.order = order_for_request(request, kwargs["order_number"], verification_hash=link_hash)
        if link_hash:
            # Remembered in the session now: drop the hash from the address bar, the history and any Referer.
            return redirect("checkout:pay", order_number=self.order.number)
        # The one page whose Content-Security-Policy lets Stripe.js in (its script, frames and API).
        return allow_stripe(super().dispatch(request, *args, **kwargs))

    def get(self, request, *args, **kwargs):
        if self.order.status in payments.PAID_STATUSES:
            if request.session.get("checkout_order_id") == self.order.id:
                return redirect("checkout:thank-you")
            return redirect(orders.status_path(self.order))  # an old link: the order's own page says it is paid
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        api_base = settings.STRIPE_API_BASE.rstrip("/")
        ctx.update(
            order=self.order,
            payable=self.order.status == payments.PENDING,
            stripe_publishable_key=settings.STRIPE_PUBLISHABLE_KEY,
            # localstripe serves its own Stripe.js stand-in; production loads Stripe's.
            stripe_js_url=f"{api_base}/js.stripe.com/v3/" if api_base else "https://js.stripe.com/v3/",
            stripe_local=bool(api_base),
            pay_url=reverse("checkout:pay", kwargs={"order_number": self.order.number}),
            thank_you_url=reverse("checkout:thank-you"),
            estimate=orders.expected_donation(self.order) if self.order.status == payments.PENDING else None,
        )
        return ctx

    def post(self, request, *args, **kwargs):
        wants_json = "application/json" in request.headers.get("Accept", "")
        payment_method = request.POST.get("payment_method", "").strip()
        intent_id = request.POST.get("intent", "").strip()
        if not payment_method and not intent_id:
            return self.respond(wants_json, "invalid", _("No card details were received. Please try again."), 400)
        if len(payment_method) > 255 or len(intent_id) > 255:
            return self.respond(wants_json, "invalid", _("That payment reference is not valid."), 400)
        answer = payments.answer_pay_request(order=self.order, payment_method=payment_method, intent_id=intent_id,
                                             client_address=get_client_ip_address(request))
        if answer.status == "succeeded":
            self.request.session["checkout_order_id"] = self.order.id
            return self.respond(wants_json, "succeeded", answer.message, 200,
                                redirect_url=reverse("checkout:thank-you"))
        if answer.status == "requires_action":
            return self.respond(wants_json, "requires_action", "", 200, client_secret=answer.client_secret,
                                intent=answer.intent)
        message = declines.fan_message(answer, order=self.order, intent_id=intent_id)
        return self.respond(wants_json, answer.status, message, answer.http_status)

    def respond(self, wants_json, status, message, code, **extra):
        if wants_json:
            return http.JsonResponse({"status": status, "message": message, **extra}, status=code)
        if status == "succeeded":
            return redirect(extra["redirect_url"])
        if message:
            messages.error(self.request, message)
        ctx = self.get_context_data(outcome=status, **extra)
        return self.render_to_response(ctx, status=code)


class ThankYouView(oscar_views.ThankYouView):
    pass
