"""Take a balance checkpoint, so balances and statements sum only the entries since (schedule it, e.g. hourly)."""

from django.core.management.base import BaseCommand

from fundraising.models import BalanceCheckpoint
from fundraising.services import take_balance_checkpoint


class Command(BaseCommand):
    help = "Record cumulative ledger totals up to the latest committed entry (keeps balances fast)."

    def handle(self, *args, **options):
        before = BalanceCheckpoint.objects.order_by("-upto_entry_id").first()
        checkpoint = take_balance_checkpoint()
        if checkpoint is None:
            self.stdout.write("ledger is empty: nothing to do")
        elif before is not None and checkpoint.pk == before.pk:
            self.stdout.write(f"checkpoint up to entry {checkpoint.upto_entry_id} is current: nothing to do")
        else:
            self.stdout.write(f"checkpoint taken up to entry {checkpoint.upto_entry_id}")
