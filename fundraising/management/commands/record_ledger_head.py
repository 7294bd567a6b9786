"""Record the public ledger chain's end now (celery beat runs it hourly: shop.jobs.periodic.record_ledger_head).

Anyone who saves /fundraising/ledger/head.json can later prove the history up to it was not rewritten
(scripts/verify_public_ledger --head FILE). Prints the head recorded."""

from django.core.management.base import BaseCommand

from fundraising.chain import record_head


class Command(BaseCommand):
    help = "Record the public ledger chain's current end (sequence number and hash)."

    def handle(self, *args, **options):
        head = record_head()
        self.stdout.write(f"head recorded: sequence {head.seq}, hash {head.hash}, at {head.recorded_at.isoformat()}")
