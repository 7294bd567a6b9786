"""Partner sales reports at scale (issue 19): the time to preview and to import a report of 500 and 5,000 lines on
PostgreSQL, and how long the import holds the public chain's end (the lock every online sale takes to seal its own
transaction): only the final sealing step (``chain.seal_many``), timed here; the preview never takes it.

Each run uses its own empty database (``$BENCH_PG/p6_bench_partners``, dropped and created), with the P6 catalogue and
fundraising rules loaded, and a generated report (tests/partners/support.py: USD, EUR and JPY, about one line in eight
a return). Usage: python bench/partners.py   (run with our settings; bench/run --only partners)
"""

import io
import os
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from common import record  # noqa: E402
from fundraising import chain  # noqa: E402
from fundraising.models import Partner, PartnerSaleLine  # noqa: E402
from fundraising.services import partners  # noqa: E402
from fundraising.verification import ledger_violations  # noqa: E402

SECTION = "partner sales reports"


def main():
    call_command("migrate", "--noinput", verbosity=0)
    call_command("load_p6_catalogue", stdout=io.StringIO())
    call_command("load_p6_fundraising", stdout=io.StringIO())
    from catalog.models import UnitCost
    from tests.partners.support import csv_bytes, generated_report

    skus = sorted({cost.stockrecord.partner_sku for cost in UnitCost.objects.select_related("stockrecord")
                   .filter(currency="USD")})[:12]
    partner = Partner.objects.get(slug="american-apparel")
    sealing = []
    real_seal = chain.seal_many

    def timed_seal(posted):
        started = time.perf_counter()
        real_seal(posted)
        sealing.append((time.perf_counter() - started, len(posted)))

    partners.chain.seal_many = timed_seal
    offset = 0
    for count in [int(n) for n in os.environ.get("BENCH_PARTNER_LINES", "500,5000").split(",")]:
        rows = generated_report(skus, count=count, seed=count)
        for row in rows:  # line ids unique across the two reports
            row["line_id"] = f"B{offset}-{row['line_id']}"
        offset += 1
        data = csv_bytes(rows)
        started = time.perf_counter()
        preview = partners.import_partner_report(partner=partner, data=data, file_name="bench.csv", dry_run=True)
        preview_s = time.perf_counter() - started
        assert preview.status in ("preview", "refused"), preview.status
        started = time.perf_counter()
        result = partners.import_partner_report(partner=partner, data=data, file_name="bench.csv", valid_only=True)
        import_s = time.perf_counter() - started
        posted = len(result.new_lines)
        seal_s, sealed = sealing[-1]
        assert sealed == posted, (sealed, posted)
        record(SECTION, f"preview of {count} lines", round(preview_s, 2), "s",
               note=f"{len(preview.refused)} refused (returns of SKUs never sold in that currency are valid)")
        record(SECTION, f"import of {count} lines", round(import_s, 2), "s",
               note=f"{posted} posted, {round(posted / import_s)} lines/s")
        record(SECTION, f"chain's end held while importing {count} lines", round(seal_s * 1000, 1), "ms",
               note=f"{round(100 * seal_s / import_s, 1)} % of the import; before: the whole import")
        started = time.perf_counter()
        again = partners.import_partner_report(partner=partner, data=data, file_name="bench.csv", valid_only=True)
        record(SECTION, f"re-import of {count} lines (nothing new)", round(time.perf_counter() - started, 2), "s",
               note=again.status)
    violations = list(ledger_violations())
    record(SECTION, "verify_ledger violations", len(violations), "", note=f"{PartnerSaleLine.objects.count()} lines")


if __name__ == "__main__":
    main()
