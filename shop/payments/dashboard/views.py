import uuid
from decimal import Decimal

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.generic import DetailView, FormView, ListView, View
from oscar.apps.payment.exceptions import PaymentError
from oscar.core.loading import get_model

from fundraising.exceptions import SaleNotPosted
from fundraising.money import quantize
from fundraising.services import preview_reversal
from shop.payments import selectors, services, webhooks
from shop.payments.dashboard.forms import RefundForm
from shop.payments.gateway import StripeUnreachable
from shop.payments.models import StripeEvent

Order = get_model("order", "Order")


class RefundView(FormView):
    """Refund a paid order through Stripe: the whole order, chosen lines or an amount, in two steps.

    The form (no scope chosen in advance) is checked, then a confirmation page shows the amount, the lines,
    the donation it will take back from each beneficiary (computed by the ledger's own reversal code, rolled
    back) and what stays refundable; only the confirmation's POST (`confirm=1`) calls Stripe. The form carries
    a request id made when it is shown, used in the Stripe idempotency key: posting it twice refunds once.
    """

    template_name = "payments/dashboard/refund.html"
    confirm_template_name = "payments/dashboard/refund_confirm.html"
    form_class = RefundForm

    def dispatch(self, request, *args, **kwargs):
        self.order = get_object_or_404(Order, number=kwargs["number"])
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["order"] = self.order
        return kwargs

    def get_initial(self):
        return {"request_id": uuid.uuid4().hex}

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        money = selectors.order_money(self.order)
        ctx.update(order=self.order, money=money, captured=money.captured, refunds=money.refunds,
                   left=money.refundable)
        return ctx

    def form_valid(self, form):
        data = form.cleaned_data
        line_quantities = None
        try:
            if data["scope"] == RefundForm.WHOLE:
                amount = services.captured_amount(self.order) - services.refunded_or_reserved(self.order)
            elif data["scope"] == RefundForm.LINES:
                line_quantities = data["line_quantities"]
                amount = services.refund_amount_for_lines(order=self.order, line_quantities=line_quantities)
            else:
                amount = data["amount"]
            if self.request.POST.get("confirm") != "1":
                return self.confirm(form, amount, line_quantities)
            row = services.start_refund(
                order=self.order, amount=amount, line_quantities=line_quantities, request_id=data["request_id"],
                user=self.request.user, reason=data.get("reason", ""),
            )
        except services.RefundRefused as exc:
            form.add_error(None, str(exc))
            return self.form_invalid(form)
        except StripeUnreachable:
            form.add_error(None, _("Stripe did not answer, so whether it refunded is not known yet. The amount "
                                   "stays reserved: post this form again to finish it (it never refunds twice), "
                                   "or reconcile_payments will settle it."))
            return self.form_invalid(form)
        except PaymentError as exc:
            form.add_error(None, _("Stripe did not take the refund: %(error)s") % {"error": exc})
            return self.form_invalid(form)
        if row.status == row.SUCCEEDED:
            messages.success(self.request, _("Refunded %(amount)s %(currency)s (Stripe refund %(id)s).")
                             % {"amount": row.amount, "currency": row.currency, "id": row.refund_id})
        else:
            messages.info(self.request, _("Refund %(id)s is %(status)s at Stripe; it will be recorded when it "
                                          "completes.") % {"id": row.refund_id or row.request_id, "status": row.status})
        return redirect("dashboard:order-detail", number=self.order.number)

    def confirm(self, form, amount, line_quantities):
        """The confirmation page: nothing is reserved or sent yet."""
        if amount <= 0:
            raise services.RefundRefused(_("Nothing is left to refund on this order."))
        left = services.captured_amount(self.order) - services.refunded_or_reserved(self.order)
        if amount > left:
            raise services.RefundRefused(_("Cannot refund %(amount)s %(currency)s: only %(left)s %(currency)s is "
                                           "left to refund.") % {"amount": amount, "currency": self.order.currency,
                                                                 "left": left})
        lines = {line.pk: qty for line, qty in (line_quantities or {}).items()} or None
        try:
            parts = preview_reversal(order=self.order, amount=amount, line_quantities=lines)
            donation = sorted(((b, quantize(part, self.order.currency)) for b, part in parts.items()),
                              key=lambda item: item[0].name)
        except SaleNotPosted:
            donation = []
        ctx = self.get_context_data(form=form)
        ctx.update(amount=amount, line_quantities=sorted((line_quantities or {}).items(), key=lambda i: i[0].pk),
                   donation=donation,
                   donation_total=quantize(sum((part for _, part in donation), start=Decimal(0)), self.order.currency),
                   left_after=left - amount, posted=[(k, v) for k, v in self.request.POST.items()
                                                      if k not in ("csrfmiddlewaretoken", "confirm")])
        return self.response_class(request=self.request, template=[self.confirm_template_name], context=ctx,
                                   using=self.template_engine)

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=400 if form.is_bound else 200)


class ExcessPaymentListView(ListView):
    """Money Stripe took beyond orders' booked payments, and where its refund stands."""

    template_name = "payments/dashboard/excess_list.html"
    context_object_name = "excess_payments"
    paginate_by = 50

    def get_queryset(self):
        return selectors.excess_payments(open_only=self.request.GET.get("open") == "1")


class CancelUnpaidOrderView(View):
    """Cancel a pending order from its dashboard page: the cancellation service, which cancels the order's
    intents at Stripe first (and captures instead if Stripe says one succeeded). POST only."""

    def post(self, request, number):
        order = get_object_or_404(Order, number=number)
        if order.status != services.PENDING:
            messages.error(request, _("Order %(number)s is %(status)s: only an order pending payment can be "
                                      "cancelled here (a paid order is cancelled by refunding it).")
                           % {"number": order.number, "status": _(order.status)})
            return redirect("dashboard:order-detail", number=order.number)
        who = request.user.get_username()
        try:
            outcome = services.cancel_unpaid_order(
                order=order, reason=_("Cancelled by staff (%(user)s); stock released.") % {"user": who})
        except PaymentError as exc:
            messages.error(request, _("Stripe could not be asked, so nothing was cancelled: %(error)s")
                           % {"error": exc})
            return redirect("dashboard:order-detail", number=order.number)
        if outcome == "cancelled":
            messages.success(request, _("Order %(number)s cancelled; its payment intents were cancelled at Stripe "
                                        "and its stock released.") % {"number": order.number})
        elif outcome == "captured":
            messages.warning(request, _("Order %(number)s was not cancelled: Stripe says it was paid, so it is now "
                                        "Paid.") % {"number": order.number})
        else:
            messages.warning(request, _("Order %(number)s was not cancelled: a payment for it is in progress. Try "
                                        "again in a minute.") % {"number": order.number})
        return redirect("dashboard:order-detail", number=order.number)


class WebhookEventListView(ListView):
    """Every Stripe event received: its outcome, attempts and last error; failed ones first to hand."""

    template_name = "payments/dashboard/webhook_event_list.html"
    context_object_name = "events"
    paginate_by = 50

    def get_queryset(self):
        outcome = self.request.GET.get("outcome")
        return selectors.webhook_events(outcome=outcome if outcome in dict(StripeEvent.OUTCOMES) else None)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(counts=selectors.webhook_event_counts(), outcome=self.request.GET.get("outcome", ""))
        return ctx


class WebhookEventDetailView(DetailView):
    """One event: its payload, its attempts and the traceback of the last failure; a failed event can be
    processed again (POST), once, now."""

    template_name = "payments/dashboard/webhook_event_detail.html"
    context_object_name = "event"
    queryset = StripeEvent.objects.all()

    def post(self, request, pk):
        event = get_object_or_404(StripeEvent, pk=pk)
        if event.outcome != StripeEvent.FAILED:
            messages.error(request, _("Event %(id)s is %(outcome)s: only a failed event can be processed again.")
                           % {"id": event.event_id, "outcome": event.outcome})
            return redirect("payments-dashboard:webhook-event", pk=pk)
        outcome, detail = webhooks.process_again(pk=pk)
        if outcome == StripeEvent.FAILED:
            messages.error(request, _("Event %(id)s failed again: %(detail)s") % {"id": event.event_id,
                                                                                  "detail": detail})
        else:
            messages.success(request, _("Event %(id)s %(outcome)s: %(detail)s")
                             % {"id": event.event_id, "outcome": outcome, "detail": detail})
        return redirect("payments-dashboard:webhook-event", pk=pk)
