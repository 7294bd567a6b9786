"""Staff pages of background work (served by the payments dashboard app, under /dashboard/payments/): the
emails owed to fans and what each periodic job did."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.generic import ListView, View

from shop.jobs import outbox, selectors
from shop.jobs.models import OutgoingEmail


class EmailListView(ListView):
    template_name = "jobs/dashboard/email_list.html"
    context_object_name = "emails"
    paginate_by = 50

    def get_queryset(self):
        status = self.request.GET.get("status")
        return selectors.outgoing_emails(status=status if status in dict(OutgoingEmail.STATUSES) else None)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(counts=selectors.outgoing_email_counts(), status=self.request.GET.get("status", ""))
        return ctx


class EmailSendAgainView(View):
    """POST: a failed email is sent again now (one more attempt; it stays failed if that fails too)."""

    def post(self, request, pk):
        email = get_object_or_404(OutgoingEmail, pk=pk)
        if email.status != OutgoingEmail.FAILED:
            messages.error(request, _("Email %(key)s is %(status)s: only a failed email can be sent again.")
                           % {"key": email.key, "status": email.status})
        else:
            email = outbox.send_again(pk=pk)
            messages.info(request, _("Email %(key)s is now %(status)s.") % {"key": email.key, "status": email.status})
        return redirect("payments-dashboard:email-list")


class JobRunListView(ListView):
    template_name = "jobs/dashboard/job_runs.html"
    context_object_name = "runs"
    paginate_by = 50

    def get_queryset(self):
        return selectors.job_runs(name=self.request.GET.get("job") or None)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["latest"] = selectors.latest_runs()
        return ctx
