import uuid

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.generic import FormView, ListView
from oscar.apps.payment.exceptions import PaymentError
from oscar.core.loading import get_model

from shop.payments import selectors, services
from shop.payments.gateway import StripeUnreachable
from shop.payments.dashboard.forms import RefundForm

Order = get_model("order", "Order")


class RefundView(FormView):
    """Refund a paid order through Stripe: the whole order, chosen lines or an amount.

    The form carries a request id made when it is shown, used in the Stripe idempotency key: posting
    the same form twice refunds once.
    """

    template_name = "payments/dashboard/refund.html"
    form_class = RefundForm

    def dispatch(self, request, *args, **kwargs):
        self.order = get_object_or_404(Order, number=kwargs["number"])
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["order"] = self.order
        return kwargs

    def get_initial(self):
        return {"scope": RefundForm.WHOLE, "request_id": uuid.uuid4().hex}

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        captured = services.captured_amount(self.order)
        ctx.update(order=self.order, captured=captured, refunds=self.order.stripe_refunds.all(),
                   left=captured - services.refunded_or_reserved(self.order))
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

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=400 if form.is_bound else 200)


class ExcessPaymentListView(ListView):
    """Money Stripe took beyond orders' booked payments, and where its refund stands."""

    template_name = "payments/dashboard/excess_list.html"
    context_object_name = "excess_payments"
    paginate_by = 50

    def get_queryset(self):
        return selectors.excess_payments(open_only=self.request.GET.get("open") == "1")
