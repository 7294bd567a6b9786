"""Dashboard: import a partner's sales report, upload -> preview -> confirm (issue 19).

The preview is ``services.partners.import_partner_report(dry_run=True)``: the very posting code, rolled back. The
uploaded bytes wait for the confirmation in the cache (shared by every node: Redis in production), keyed by the
staff user and the file's SHA-256, so the confirmed file is the previewed one; confirming posts it under the same
rules (a line posted meanwhile by someone else is then "posted before", never twice).

The same page lets staff publish a partner's per-store figures on the public transparency page (off by default:
``services.partners.set_store_publication``), one small POST form per partner.
"""

import hashlib

from django import forms
from django.contrib import messages
from django.core.cache import cache
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import FormView

from fundraising.models import Beneficiary, Partner
from fundraising.partner_reports import MAX_BYTES
from fundraising.services.partners import import_partner_report, set_store_publication, summary

CACHE_SECONDS = 3600
#: The most report lines the dashboard takes per file (see PartnerReportForm.clean_report).
MAX_DASHBOARD_LINES = 2000


class PartnerReportUploadForm(forms.Form):
    partner = forms.ModelChoiceField(label=gettext_lazy("Partner"), queryset=Partner.objects.order_by("name"),
                                     empty_label=None)
    report = forms.FileField(label=gettext_lazy("Sales report (CSV)"),
                             help_text=gettext_lazy("The format is described in the README; at most 5 MB."))

    def clean_report(self):
        upload = self.cleaned_data["report"]
        if upload.size > MAX_BYTES:
            # Refused on its size alone: nothing of it is read or parsed.
            raise forms.ValidationError(
                _("The file is %(size)s bytes, over the %(limit)s bytes limit.") % {"size": upload.size,
                                                                                 "limit": MAX_BYTES})
        # Each step (preview, confirm) posts the whole file in one request: it must answer within gunicorn's
        # 30 s timeout. bench/partners.py: 2,000 lines take about 10 s on 2 cores. Larger files: the command.
        rows = sum(1 for line in upload.read(MAX_BYTES + 1).splitlines() if line.strip()) - 1
        upload.seek(0)
        if rows > MAX_DASHBOARD_LINES:
            raise forms.ValidationError(
                _("The report has %(rows)s lines; the dashboard takes up to %(limit)s per file. Split it, or import "
                  "it with: python manage.py import_partner_sales FILE --partner NAME") % {
                    "rows": rows, "limit": MAX_DASHBOARD_LINES})
        return upload


class PartnerReportConfirmForm(forms.Form):
    partner = forms.ModelChoiceField(queryset=Partner.objects.all(), widget=forms.HiddenInput)
    sha256 = forms.RegexField(regex=r"^[0-9a-f]{64}$", widget=forms.HiddenInput)
    file_name = forms.CharField(max_length=255, widget=forms.HiddenInput)
    valid_only = forms.BooleanField(required=False, label=gettext_lazy("Post the valid lines only"))


class StorePublicationForm(forms.Form):
    partner = forms.ModelChoiceField(queryset=Partner.objects.all(), widget=forms.HiddenInput)
    publish = forms.BooleanField(required=False, label=gettext_lazy("Publish per-store figures on the public page"))


def _cache_key(user, sha256):
    return f"fundraising:partner-report:{user.pk}:{sha256}"


class PartnerReportImportView(FormView):
    form_class = PartnerReportUploadForm
    template_name = "fundraising/dashboard/partner_import.html"

    def get_initial(self):
        return {"partner": Partner.objects.filter(slug="american-apparel").first()}

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["partners"] = Partner.objects.order_by("name")
        return ctx

    def post(self, request, *args, **kwargs):
        if request.POST.get("step") == "confirm":
            return self._confirm(PartnerReportConfirmForm(request.POST))
        if request.POST.get("step") == "publish":
            return self._publish(StorePublicationForm(request.POST))
        return super().post(request, *args, **kwargs)

    def _publish(self, form):
        if not form.is_valid():
            messages.error(self.request, _("Unknown partner: nothing changed."))
            return redirect(self.request.path)
        partner, publish = form.cleaned_data["partner"], form.cleaned_data["publish"]
        changed = set_store_publication(partner=partner, publish=publish, by=self.request.user)
        if not changed:
            messages.info(self.request, _("Nothing changed for %(partner)s.") % {"partner": partner.name})
        elif publish:
            messages.success(self.request, _("%(partner)s's per-store figures are now on the public page.") % {
                "partner": partner.name})
        else:
            messages.success(self.request, _("%(partner)s's per-store figures are no longer on the public page.") % {
                "partner": partner.name})
        return redirect(self.request.path)

    def form_valid(self, form):
        upload = form.cleaned_data["report"]
        data = upload.read(MAX_BYTES + 1)
        partner = form.cleaned_data["partner"]
        result = import_partner_report(partner=partner, data=data, file_name=upload.name, dry_run=True,
                                       imported_by=self.request.user)
        sha256 = hashlib.sha256(data).hexdigest()
        cache.set(_cache_key(self.request.user, sha256), data, CACHE_SECONDS)
        confirm = PartnerReportConfirmForm(initial={"partner": partner.pk, "sha256": sha256,
                                                    "file_name": upload.name[:255]})
        return self.render_to_response(self.get_context_data(form=form, result=self._rows(result), confirm=confirm))

    def _confirm(self, confirm):
        if not confirm.is_valid():
            messages.error(self.request, _("The confirmation was incomplete: upload the report again."))
            return self.render_to_response(self.get_context_data())
        data = cache.get(_cache_key(self.request.user, confirm.cleaned_data["sha256"]))
        if data is None or hashlib.sha256(data).hexdigest() != confirm.cleaned_data["sha256"]:
            messages.error(self.request, _("The previewed report is no longer held (after an hour): upload it again."))
            return self.render_to_response(self.get_context_data())
        result = import_partner_report(
            partner=confirm.cleaned_data["partner"], data=data, file_name=confirm.cleaned_data["file_name"],
            imported_by=self.request.user, valid_only=confirm.cleaned_data["valid_only"],
        )
        if result.posted:
            cache.delete(_cache_key(self.request.user, confirm.cleaned_data["sha256"]))
            messages.success(self.request, _("Posted %(count)s line(s) of the report.") % {
                "count": len(result.new_lines)})
        elif result.status == "nothing to do":
            messages.info(self.request, _("Every line was posted before: nothing new to post."))
        else:
            messages.error(self.request, _("Nothing posted: lines are refused (confirm the valid lines only, or fix "
                                           "the file)."))
        return self.render_to_response(self.get_context_data(result=self._rows(result), done=True))

    def _rows(self, result):
        names = dict(Beneficiary.objects.values_list("pk", "name"))
        return {
            "status": result.status,
            "summary": summary(result),
            "totals": result.totals(),
            "refused": result.refused,
            "lines": [
                {"line": row.line, "status": row.status, "profit": row.profit, "donation": row.donation,
                 "parts": [(names.get(b, b), amount) for b, amount in sorted(row.parts.items())], "note": row.note,
                 "share": row.share_bps / 100}
                for row in result.lines
            ],
        }
