"""The public ledger: what anyone may see of each ledger transaction, sealed in a hash chain (issue 17).

Each posting (``services.ledger._post``) seals its transaction in the same database transaction: it locks the
chain's end (``ChainState``), writes a ``ChainLink`` with the next sequence number and moves the end on. So the
sequence follows commit order with no gap, and every committed transaction is in the chain.

What is public of a transaction (``payload``), and nothing else:
- ``date``: the day it was posted (UTC); a disbursement only its month, so payout days are not published;
- ``kind``, ``currency``;
- ``amounts``: per group, what the transaction moved on that group's balance (credit − debit on its payable and
  receivable accounts: a sale gives, a refund takes back, a payout pays out), under the group's public label at
  the time (a named group's name, an aliased one's public name); every aggregated group's amounts together
  under "Other groups";
- ``receipt``: the receipt code of its order (sale, refund, dispute, restoration), keyed with the server's
  secret so nobody can derive it from an order number; no order number, customer, memo or payout reference.

The hash of a link is ``sha256(prev_hash + "\\n" + payload)``, ``payload`` being the canonical JSON
(sorted keys, no spaces, ASCII) with ``seq``; the first link's ``prev_hash`` is 64 zeros. Heads (the chain's end
at a time) are recorded hourly (``record_head``) and published, so a rewrite after a head someone kept is seen.
"""

import base64
import datetime as dt
import hashlib
import json
from collections import defaultdict
from decimal import Decimal

from django.db import transaction
from django.utils.crypto import salted_hmac

from fundraising.money import quantize

OTHER_GROUPS = "Other groups"
SCHEMA = "p6-public-ledger/1"
ORDER_KINDS = ("sale", "refund", "dispute", "restoration")
#: A group's balance with the campaign: what it is owed (payable) less what it owes back (receivable).
GROUP_BALANCE_KINDS = ("payable", "receivable")


def receipt_code(order_number):
    """The order's receipt code: 16 characters (80 bits of an HMAC keyed with SECRET_KEY), as XXXX-XXXX-XXXX-XXXX."""
    digest = salted_hmac("fundraising.receipt", str(order_number), algorithm="sha256").digest()
    code = base64.b32encode(digest[:10]).decode()
    return "-".join(code[i:i + 4] for i in range(0, 16, 4))


def canonical(payload):
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def link_hash(prev_hash, payload_json):
    return hashlib.sha256(f"{prev_hash}\n{payload_json}".encode("ascii")).hexdigest()


def payload_for(txn, entries, *, seq, groups=None):
    """The public content of ``txn`` posted with ``entries`` [(Account, debit, credit)], as a dict."""
    from fundraising.models import Beneficiary

    if groups is None:  # ``groups``: {id: Beneficiary}, loaded once by a caller checking many transactions
        groups = Beneficiary.objects.in_bulk({account.beneficiary_id for account, _, _ in entries} - {None})
    amounts = defaultdict(lambda: Decimal(0))
    for account, debit, credit in entries:
        if account.beneficiary_id is None or account.kind not in GROUP_BALANCE_KINDS:
            continue  # the campaign's accounts and a group's paid-out account mirror these and say nothing more
        label = groups[account.beneficiary_id].public_label or OTHER_GROUPS
        amounts[label] += credit - debit
    posted = txn.posted_at.astimezone(dt.timezone.utc).date()
    return {
        "seq": seq,
        "date": posted.strftime("%Y-%m") if txn.kind == "disbursement" else posted.isoformat(),
        "kind": txn.kind,
        "currency": txn.currency,
        "amounts": [[label, format(quantize(amount, txn.currency), "f")]
                    for label, amount in sorted(amounts.items()) if amount],
        "receipt": receipt_code(txn.order.number) if txn.order_id and txn.kind in ORDER_KINDS else None,
    }


def seal(txn, entries):
    """Append ``txn`` (just inserted with ``entries``) to the public chain, in the caller's transaction."""
    seal_many([(txn, entries)])


def seal_many(posted):
    """Append every ``(txn, entries)`` of ``posted`` to the public chain, in that order, in the caller's
    transaction: one lock on the chain's end, taken here and held until the caller commits.

    A service posting many transactions in one database transaction (a partner report) posts them unsealed and
    seals them all in one step just before it commits, so online sales wait for that step only, not for the whole
    import."""
    from fundraising.models import GENESIS, Beneficiary, ChainLink, ChainState

    if not posted:
        return
    groups = Beneficiary.objects.in_bulk(
        {account.beneficiary_id for _, entries in posted for account, _, _ in entries} - {None})
    with transaction.atomic():
        ChainState.objects.bulk_create([ChainState(pk=1, seq=0, head=GENESIS)], ignore_conflicts=True)
        state = ChainState.objects.select_for_update().get(pk=1)
        seq, head, links = state.seq, state.head, []
        for txn, entries in posted:
            seq += 1
            payload = payload_for(txn, entries, seq=seq, groups=groups)
            text = canonical(payload)
            digest = link_hash(head, text)
            links.append(ChainLink(transaction=txn, seq=seq, payload=text, prev_hash=head, hash=digest,
                                   receipt=payload["receipt"] or ""))
            head = digest
        ChainLink.objects.bulk_create(links)
        ChainState.objects.filter(pk=1).update(seq=seq, head=head)


def seal_unsealed():
    """Seal every ledger transaction not in the chain yet, in posting order (those posted before the chain
    existed: migration 0007 runs it once). Returns how many were sealed."""
    from fundraising.models import LedgerTransaction

    sealed = 0
    with transaction.atomic():
        for txn in (LedgerTransaction.objects.filter(chain_link__isnull=True).select_related("order")
                    .prefetch_related("entries__account").order_by("posted_at", "id")):
            seal(txn, [(e.account, e.debit, e.credit) for e in txn.entries.all()])
            sealed += 1
    return sealed


def current_head():
    from fundraising.models import GENESIS, ChainState

    state = ChainState.objects.filter(pk=1).first()
    return (state.seq, state.head) if state else (0, GENESIS)


def record_head():
    """Record the chain's end now (hourly job); returns the ChainHead."""
    from fundraising.models import ChainHead

    seq, head = current_head()
    return ChainHead.objects.create(seq=seq, hash=head)


def published(link):
    """A link as the feed publishes it."""
    return {**json.loads(link.payload), "prev_hash": link.prev_hash, "hash": link.hash}


def verify_chain():
    """Yield one message per problem of the stored chain: a link whose hash or predecessor is wrong, a gap, a
    link whose public content no longer matches its ledger rows, a transaction not in the chain, a recorded head
    the chain does not pass through, or a chain end that is not the last link."""
    from fundraising.models import GENESIS, ChainHead, ChainLink, ChainState, LedgerTransaction

    from fundraising.models import Beneficiary

    prev, expected_seq, hashes = GENESIS, 1, {}
    groups = Beneficiary.objects.in_bulk()  # one query, not one per link
    links = (ChainLink.objects.select_related("transaction__order")
             .prefetch_related("transaction__entries__account").order_by("seq"))
    for link in links.iterator(chunk_size=500):
        if link.seq != expected_seq:
            yield f"public chain: sequence {expected_seq} missing (next link is {link.seq})"
        if link.prev_hash != prev:
            yield f"public chain: link {link.seq} does not follow the previous link's hash"
        if link_hash(link.prev_hash, link.payload) != link.hash:
            yield f"public chain: link {link.seq}'s hash does not match its content"
        txn = link.transaction
        stored = json.loads(link.payload)
        rows = payload_for(txn, [(e.account, e.debit, e.credit) for e in txn.entries.all()], seq=link.seq,
                           groups=groups)
        # labels may have changed since (a group's visibility): compare the amounts and the rest, not the labels
        if {k: v for k, v in stored.items() if k != "amounts"} != {k: v for k, v in rows.items() if k != "amounts"} \
                or sorted(a for _, a in stored["amounts"]) != sorted(a for _, a in rows["amounts"]):
            yield f"public chain: link {link.seq} no longer matches ledger transaction {txn.pk}"
        hashes[link.seq] = link.hash
        prev, expected_seq = link.hash, link.seq + 1
    unsealed = LedgerTransaction.objects.filter(chain_link__isnull=True).count()
    if unsealed:
        yield f"public chain: {unsealed} ledger transaction(s) not in the chain"
    state = ChainState.objects.filter(pk=1).first()
    if state is not None and (state.seq, state.head) != (expected_seq - 1, prev):
        yield f"public chain: its recorded end ({state.seq}) is not its last link ({expected_seq - 1})"
    for head in ChainHead.objects.order_by("recorded_at", "id"):
        if head.seq and hashes.get(head.seq) != head.hash:
            yield f"public chain: the head recorded at {head.recorded_at.isoformat()} (sequence {head.seq}) " \
                  f"is not in the chain"
