"""Ledger at scale: load 1,000,000 entries (once, cached in its own database), then time the reads.

Loader: 250,000 balanced transactions of 4 entries (campaign donations debit, three beneficiary payable
credits), posted evenly over 2025, written with COPY in one database transaction. The deferred
zero-sum constraint trigger would run once per entry row at commit (1M executions, each summing its
transaction); instead, inside the same transaction, the trigger is disabled, the rows are copied, the
same two checks it makes (sums per transaction and currency; entry, transaction and account
currencies agree) run once set-based over the new rows, the trigger is enabled again and only then
the transaction commits, so nothing unbalanced can ever be committed. Append-only triggers are
untouched (COPY only inserts). Digests are computed with fundraising.models.transaction_digest, so
verify_ledger checks them like any other.

The bulk transactions are *adjustments* (kind "adjustment", no order): a sale needs a real Oscar order
with lines and breakdowns, which the bulk path does not fabricate. verify_ledger's per-sale breakdown
recomputation is therefore timed separately on real sales (bench/orders.py) and reported per sale.
Usage: python bench/ledger.py [--fresh]   (run with our settings and DATABASE_URL of the ledger bench DB)
"""

import datetime as dt
import io
import os
import random
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Max  # noqa: E402

from common import ROOT, record, timeit  # noqa: E402
from fundraising import selectors  # noqa: E402
from fundraising.models import Account, Beneficiary, Entry, transaction_digest  # noqa: E402
from fundraising.services import take_balance_checkpoint  # noqa: E402

TARGET_ENTRIES = 1_000_000
PER_TXN = 4
START = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
SPAN = dt.timedelta(days=365)


def load():
    call_command("load_p6_fundraising", stdout=io.StringIO())
    beneficiaries = list(Beneficiary.objects.order_by("pk")[:3])
    donations, _ = Account.objects.get_or_create(kind="donations", beneficiary=None, currency="USD")
    payables = [Account.objects.get_or_create(kind="payable", beneficiary=b, currency="USD")[0] for b in beneficiaries]
    n_txn = TARGET_ENTRIES // PER_TXN
    rng = random.Random(7)
    t0 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT COALESCE(MAX(id), 0) FROM fundraising_ledgertransaction")
        txn_base = cur.fetchone()[0]
        cur.execute("SELECT COALESCE(MAX(id), 0) FROM fundraising_entry")
        entry_id = cur.fetchone()[0]
        cur.execute("ALTER TABLE fundraising_entry DISABLE TRIGGER fundraising_entry_balanced")
        # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED: check them row by row during the COPY
        # (still enforced), so no trigger event is pending when the zero-sum trigger is enabled again.
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        txns, entries = io.StringIO(), io.StringIO()
        for i in range(n_txn):
            txn_id = txn_base + 1 + i
            posted = START + SPAN * i / n_txn
            parts = [Decimal(rng.randint(50, 2500)) / 100 for _ in payables]
            total = sum(parts)
            rows = [(donations.pk, total, Decimal("0"))] + [
                (p.pk, Decimal("0"), a) for p, a in zip(payables, parts, strict=True)
            ]
            key = f"bench:{txn_id}"
            digest = transaction_digest(kind="adjustment", idempotency_key=key, currency="USD", order_id=None,
                                        reference="", basis_amount=None, memo="bench load", posted_at=posted,
                                        created_by_id=None, entries=rows)
            stamp = posted.isoformat()
            txns.write(f"{txn_id}\tadjustment\t{key}\tUSD\t\\N\t\t\\N\tbench load\t{stamp}\t\\N\t{digest}\n")
            for account_id, debit, credit in rows:
                entry_id += 1
                entries.write(f"{entry_id}\t{txn_id}\t{account_id}\tUSD\t{debit}\t{credit}\t{stamp}\n")
        gen = time.perf_counter() - t0
        with cur.cursor.copy(
            "COPY fundraising_ledgertransaction (id, kind, idempotency_key, currency, order_id, reference, "
            "basis_amount, memo, posted_at, created_by_id, digest) FROM STDIN"
        ) as copy:
            copy.write(txns.getvalue())
        with cur.cursor.copy(
            "COPY fundraising_entry (id, transaction_id, account_id, currency, debit, credit, posted_at) FROM STDIN"
        ) as copy:
            copy.write(entries.getvalue())
        # The trigger's checks, once, set-based, over the new rows (same transaction: nothing is visible yet).
        cur.execute("""
            SELECT transaction_id FROM fundraising_entry WHERE transaction_id > %s
            GROUP BY transaction_id, currency HAVING SUM(debit) <> SUM(credit) LIMIT 1""", [txn_base])
        bad = cur.fetchone()
        cur.execute("""
            SELECT e.transaction_id FROM fundraising_entry e
            JOIN fundraising_ledgertransaction t ON t.id = e.transaction_id
            JOIN fundraising_account a ON a.id = e.account_id
            WHERE e.transaction_id > %s AND (e.currency <> t.currency OR e.currency <> a.currency) LIMIT 1""",
            [txn_base])
        bad = bad or cur.fetchone()
        if bad:
            raise RuntimeError(f"bulk load: transaction {bad[0]} is unbalanced; rolled back")
        cur.execute("ALTER TABLE fundraising_entry ENABLE TRIGGER fundraising_entry_balanced")
        for table in ("fundraising_ledgertransaction", "fundraising_entry"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
    with connection.cursor() as cur:
        cur.execute("ANALYZE fundraising_entry")
        cur.execute("ANALYZE fundraising_ledgertransaction")
    return gen, time.perf_counter() - t0


def run_child(args, env=None):
    """Run a command, output discarded; return (seconds, peak RSS in MiB) from wait4's rusage."""
    t = time.perf_counter()
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{args} failed: {proc.stderr.read().decode()[-2000:]}")
    return time.perf_counter() - t, usage.ru_maxrss / 1024


def ledger_pages():
    """Page 1 and page 1,000 of the staff ledger (dashboard view if present, else its keyset query)."""
    last = Entry.objects.aggregate(m=Max("id"))["m"]
    cursor_1000 = Entry.objects.order_by("-id").values_list("id", flat=True)[999 * 50 - 1]
    try:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Permission
        from django.test import Client
        from django.test.utils import setup_test_environment

        setup_test_environment()
        User = get_user_model()
        user, _ = User.objects.get_or_create(username="bench-staff", defaults={"email": "bench@example.org",
                                                                                "is_staff": True})
        user.user_permissions.add(*Permission.objects.filter(content_type__app_label="fundraising"))
        client = Client()
        client.force_login(user)
        url = "/dashboard/fundraising/ledger/"

        def get(query):
            response = client.get(url + query)
            assert response.status_code == 200, response.status_code
        p1 = timeit(lambda: get(""), repeat=15)
        p1000 = timeit(lambda: get(f"?after={cursor_1000}"), repeat=15)
        return p1, p1000, "dashboard ledger view (test client, whole response)"
    except Exception as exc:  # noqa: BLE001 — issue 5's view may not be there yet: time its query instead
        print(f"  ledger view unavailable ({type(exc).__name__}: {str(exc)[:120]}); timing the keyset query",
              flush=True)

        def page(after):
            qs = Entry.objects.select_related("transaction", "account", "account__beneficiary").order_by("-id")
            if after:
                qs = qs.filter(id__lt=after)
            return list(qs[:51])
        return timeit(lambda: page(None)), timeit(lambda: page(cursor_1000)), f"keyset query (last id {last})"


def main():
    fresh = "--fresh" in sys.argv
    have = Entry.objects.count()
    if fresh or have < TARGET_ENTRIES:
        if have:
            raise SystemExit("ledger DB partly loaded: run bench/run --fresh")
        gen, total = load()
        record("ledger", "bulk load 1M entries (COPY, one checked commit)", f"{total:.1f}", "s",
               note=f"generation+digests {gen:.1f} s")
    else:
        print(f"  ledger DB already holds {have} entries: not reloaded (bench/run --fresh reloads)", flush=True)
    n_entries = Entry.objects.count()
    t = time.perf_counter()
    take_balance_checkpoint()
    record("ledger", f"checkpoint_ledger at {n_entries:,} entries", f"{(time.perf_counter() - t) * 1000:.0f}", "ms",
           note="incremental: only entries since the previous checkpoint")
    ms = timeit(lambda: selectors.beneficiary_balances(currency="USD"), repeat=15)
    record("ledger", "all beneficiaries' balances", f"{ms:.2f}", "ms", target="< 10 ms", ok=ms < 10)
    beneficiary = Beneficiary.objects.order_by("pk").first()

    def month():
        s = selectors.statement(beneficiary=beneficiary, currency="USD", start=dt.date(2025, 6, 1),
                                end=dt.date(2025, 6, 30))
        return len(list(s.entries))
    rows = month()
    ms = timeit(month, repeat=5)
    record("ledger", f"statement, one beneficiary, June 2025 ({rows:,} entries, all rows read)", f"{ms:.0f}", "ms")
    p1, p1000, how = ledger_pages()
    record("ledger", "ledger list page 1", f"{p1:.1f}", "ms", target="< 100 ms", ok=p1 < 100, note=how)
    record("ledger", "ledger list page 1,000 (keyset)", f"{p1000:.1f}", "ms", target="< 100 ms", ok=p1000 < 100,
           note=how)
    py = sys.executable
    since = (START + SPAN * 0.9).date().isoformat()  # the last ~10 % of the entries: ~100k rows
    since_utc = dt.datetime.fromisoformat(since).replace(tzinfo=dt.timezone.utc)
    small = Entry.objects.filter(posted_at__gte=since_utc).count()
    t_small, rss_small = run_child([py, "manage.py", "export_ledger", "--format", "csv", "--since", since])
    t_all, rss_all = run_child([py, "manage.py", "export_ledger", "--format", "csv"])
    _, rss_idle = run_child([py, "manage.py", "check"])
    flat = rss_all <= rss_small * 1.15 + 10
    record("ledger", f"CSV export, all {n_entries:,} entries: time", f"{t_all:.1f}", "s",
           note=f"{small:,} entries: {t_small:.1f} s")
    record("ledger", f"CSV export peak RSS {small // 1000}k / {n_entries // 1000}k entries",
           f"{rss_small:.0f} / {rss_all:.0f}", "MiB", target="flat (streams)", ok=flat,
           ratio=round(rss_all / rss_small, 2), note=f"an idle manage.py (check) peaks at {rss_idle:.0f} MiB")
    t_verify, rss_verify = run_child([py, "manage.py", "verify_ledger"])
    record("ledger", f"verify_ledger at {n_entries:,} entries", f"{t_verify:.1f}", "s",
           note=f"peak RSS {rss_verify:.0f} MiB; bulk rows are adjustments (no per-sale breakdown check)")


if __name__ == "__main__":
    main()
