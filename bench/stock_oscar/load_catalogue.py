"""Load the P6 catalogue into the stock Oscar project, through load_p6_catalogue's own code minus UnitCost.

The P6 command imports catalog.models.UnitCost (a P6 model, not installed here): a stand-in module is
put in its place before the import and ensure_stockrecord skips the unit cost, so products, variants,
stock records, categories and images are exactly the P6 ones.
"""

import os
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stock_oscar.settings")

import django  # noqa: E402

django.setup()
sys.modules["catalog.models"] = types.SimpleNamespace(UnitCost=None)

from decimal import Decimal  # noqa: E402

from catalog.management.commands import load_p6_catalogue as p6  # noqa: E402


class Command(p6.Command):
    def ensure_stockrecord(self, product, partner, sku, price, cost, stock):
        p6.StockRecord.objects.get_or_create(
            partner=partner, partner_sku=sku,
            defaults={"product": product, "price_currency": self.currency, "price": Decimal(price),
                      "num_in_stock": stock, "low_stock_threshold": 5},
        )


if __name__ == "__main__":
    cmd = Command()
    cmd.handle()
