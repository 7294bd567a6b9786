from django.urls import path
from django.utils.translation import gettext_lazy as _
from oscar.core.application import OscarDashboardConfig

VIEW = (["is_staff", "fundraising.view_ledger"],)
WRITE = (["is_staff", "fundraising.view_ledger", "fundraising.record_disbursement"],)


class FundraisingDashboardConfig(OscarDashboardConfig):
    """The "Fundraising" section of Oscar's dashboard (never a fork of it): the donation ledger for staff.

    Every URL needs a staff user with ``fundraising.view_ledger``; writing (disbursements, beneficiaries,
    share rules, the goal, partner sales reports) needs ``fundraising.record_disbursement`` as well. Oscar's
    permission decorator sends anonymous users to the dashboard login and answers 403 to a logged-in user without
    them.
    """

    label = "fundraising_dashboard"
    name = "fundraising.dashboard"
    namespace = "fundraising-dashboard"
    verbose_name = _("Fundraising dashboard")
    default_permissions = VIEW
    permissions_map = {
        "overview": VIEW,
        "ledger": VIEW,
        "ledger-csv": VIEW,
        "ledger-beancount": VIEW,
        "ledger-breakdown-csv": VIEW,
        "statement": VIEW,
        "disbursement-list": VIEW,
        "disbursement-create": WRITE,
        "beneficiary-list": VIEW,
        "beneficiary-create": WRITE,
        "beneficiary-edit": WRITE,
        "rule-list": VIEW,
        "rule-create": WRITE,
        "goal": WRITE,
        "partner-import": WRITE,
    }

    def get_urls(self):
        from fundraising.dashboard import views
        from fundraising.dashboard.partner_sales import PartnerReportImportView

        return self.post_process_urls([
            path("", views.OverviewView.as_view(), name="overview"),
            path("ledger/", views.LedgerView.as_view(), name="ledger"),
            path("ledger/export.csv", views.LedgerCsvView.as_view(), name="ledger-csv"),
            path("ledger/export.beancount", views.LedgerBeancountView.as_view(), name="ledger-beancount"),
            path("ledger/breakdown.csv", views.LedgerBreakdownCsvView.as_view(), name="ledger-breakdown-csv"),
            path("statement/", views.StatementView.as_view(), name="statement"),
            path("disbursements/", views.DisbursementListView.as_view(), name="disbursement-list"),
            path("disbursements/new/", views.DisbursementCreateView.as_view(), name="disbursement-create"),
            path("beneficiaries/", views.BeneficiaryListView.as_view(), name="beneficiary-list"),
            path("beneficiaries/new/", views.BeneficiaryCreateView.as_view(), name="beneficiary-create"),
            path("beneficiaries/<int:pk>/", views.BeneficiaryUpdateView.as_view(), name="beneficiary-edit"),
            path("rules/", views.RuleListView.as_view(), name="rule-list"),
            path("rules/new/", views.RuleCreateView.as_view(), name="rule-create"),
            path("goal/", views.GoalView.as_view(), name="goal"),
            path("partner-sales/", PartnerReportImportView.as_view(), name="partner-import"),
        ])
