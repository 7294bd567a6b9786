from oscar.apps.partner.admin import *  # noqa: F403 — an Oscar fork keeps its parent's admin
