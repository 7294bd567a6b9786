"""Read-only queries on the donation ledger (services write, selectors read).

Nothing here locks or writes. One module per sub-domain; this package re-exports their public names,
so callers write ``from fundraising import selectors; selectors.beneficiary_balances(...)``:
- ``balances``: checkpointed balances (the latest checkpoint plus the entries after it), per account,
  per beneficiary, and the ledger's currencies;
- ``entries``: statements, the staff ledger's filtered and paged entries, donations per day, payouts;
- ``partners``: partners' posted report lines, totalled per partner and currency;
- ``rules``: the share rule in force and the history of rules, the beneficiaries, the campaign goal;
- ``verifications``: the latest scheduled check of the invariants.
"""

from fundraising.selectors.balances import (
    BeneficiaryBalance,
    account_balance,
    beneficiary_balances,
    debit_balances,
    ledger_currencies,
    totals_by_account_and_kind,
)
from fundraising.selectors.entries import (
    EntryPage,
    EntryTotals,
    SOURCES,
    Statement,
    StatementLine,
    disbursements,
    donations_per_day,
    entry_page,
    entry_totals,
    ledger_entries,
    statement,
)
from fundraising.selectors.partners import PartnerTotals, partner_totals
from fundraising.selectors.rules import beneficiaries, campaign_goal, next_rule_change, rule_in_force, share_rules
from fundraising.selectors.verifications import latest_verification

__all__ = [
    "PartnerTotals",
    "SOURCES",
    "StatementLine",
    "partner_totals",
    "next_rule_change",
    "BeneficiaryBalance",
    "EntryPage",
    "EntryTotals",
    "entry_totals",
    "Statement",
    "account_balance",
    "beneficiaries",
    "beneficiary_balances",
    "campaign_goal",
    "debit_balances",
    "disbursements",
    "donations_per_day",
    "entry_page",
    "latest_verification",
    "ledger_currencies",
    "ledger_entries",
    "rule_in_force",
    "share_rules",
    "statement",
    "totals_by_account_and_kind",
]
