"""Import a partner's sales report (CSV, README "Partner sales reports") into the donation ledger.

Prints the preview's summary (lines, totals per currency, every refused line with its line number and reason).
Exit status 0 when the report was posted or there was nothing new to post (and with ``--dry-run`` when nothing
was refused); 1 when lines were refused (nothing posted unless ``--valid-only``).
"""

import os

from django.core.management.base import BaseCommand, CommandError

from fundraising.models import Partner
from fundraising.partner_reports import MAX_BYTES
from fundraising.services.partners import find_partner, import_partner_report, summary


class Command(BaseCommand):
    help = "Import a partner's sales report (CSV) into the donation ledger, once per report line."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--partner", required=True, help="the partner's name or slug, e.g. 'American Apparel'")
        parser.add_argument("--dry-run", action="store_true", help="print the preview, post nothing")
        parser.add_argument("--valid-only", action="store_true",
                            help="post the valid lines even when others are refused")

    def handle(self, *args, **options):
        try:
            partner = find_partner(options["partner"])
        except Partner.DoesNotExist:
            raise CommandError(f"no partner named {options['partner']!r}") from None
        path = options["file"]
        try:
            size = os.path.getsize(path)
            if size > MAX_BYTES:
                # Refused before anything is read, let alone parsed.
                self.stderr.write(f"file: the file is {size} bytes, over the {MAX_BYTES} bytes limit")
                raise SystemExit(1)
            with open(path, "rb") as handle:
                data = handle.read(MAX_BYTES + 1)
        except OSError as error:
            raise CommandError(f"cannot read {path}: {error.strerror}") from None
        result = import_partner_report(partner=partner, data=data, file_name=os.path.basename(path),
                                       valid_only=options["valid_only"], dry_run=options["dry_run"])
        for line in summary(result):
            self.stdout.write(line)
        if result.status == "refused":
            for refusal in result.refused:
                self.stderr.write(str(refusal))
            raise SystemExit(1)
