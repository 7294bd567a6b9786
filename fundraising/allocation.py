"""Profit, donation, fee and reversal arithmetic, exact to the currency's minor unit.

Pure functions with no Django import (like hordak's ``ratio_split``), so every figure stored on a
breakdown row can be recomputed anywhere (a shell, an audit script, a Hypothesis property) from the
row's own inputs.

Inside, every amount is an integer number of minor units and every ratio an exact ``Fraction``, so
no Decimal context precision can round behind our back. Rounding happens only where DESIGN's money
rules put it, each time once and half-up: the estimated fee, the donation of a line, and the
cumulative reversal target of a refund. Everything else is divided with the largest-remainder
(Hamilton) method, so the parts always add up exactly to the whole.

Amounts are ``Decimal`` in major units, already at the currency's minor unit (``Decimal("0.10")``
USD, ``Decimal("1000")`` JPY, ``Decimal("1.250")`` KWD); anything else is refused rather than
silently rounded: a float or an int is a ``TypeError``, a negative amount or one finer than the
minor unit a ``ValueError`` (``fundraising.money.CurrencyError`` for the latter, which subclasses it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import TypeVar

from fundraising.money import CurrencyError, exponent, from_minor, normalise, quantum, to_minor

__all__ = [
    "BPS_WHOLE",
    "LineBreakdown",
    "LineInput",
    "allocate_fee",
    "basis_points_of",
    "compute_breakdown",
    "estimate_fee",
    "largest_remainder_split",
    "reversal_parts",
]

K = TypeVar("K", bound=Hashable)

#: 100 % in basis points.
BPS_WHOLE = 10_000


@dataclass(frozen=True)
class LineInput:
    """What one order line contributes: its revenue excluding tax after discounts, and its cost.

    ``key`` identifies the line (e.g. the Oscar line id); keys of one order must be unique and
    mutually sortable, because the sorted key order breaks ties when the fee is divided.
    Validated by ``compute_breakdown``, not here, so that a bad row names its currency in the error.
    """

    key: Hashable
    revenue_excl_tax: Decimal
    unit_cost: Decimal
    quantity: int


@dataclass(frozen=True)
class LineBreakdown:
    """Every figure of one line's donation, stored as is so that anyone can recompute it.

    Invariants: ``cost == unit_cost * quantity``;
    ``profit == max(0, revenue_excl_tax - cost - fee_share)``;
    ``donation == profit * share_bps / 10000`` rounded half-up to the minor unit;
    ``sum(amount for _, amount in parts) == donation``; no figure is negative.
    ``parts`` follows the order of the ``weights`` given to ``compute_breakdown``.
    """

    key: Hashable
    revenue_excl_tax: Decimal
    unit_cost: Decimal
    quantity: int
    cost: Decimal
    fee_share: Decimal
    profit: Decimal
    share_bps: int
    donation: Decimal
    parts: tuple[tuple[Hashable, Decimal], ...]


# --- public functions -------------------------------------------------------------------------


def largest_remainder_split(
    *, total: Decimal, weights: Sequence[tuple[K, int | Decimal]], currency: str
) -> dict[K, Decimal]:
    """Split ``total`` among the keys in proportion to their weights, in whole minor units.

    Invariants: the parts sum exactly to ``total``; none is negative; each is within one minor unit
    of its exact proportional share (strictly less than one unit away); a key of weight 0 gets 0;
    the result does not depend on the order of ``weights``, because equal remainders are broken
    by sorted key order (the first key in sorted order gets the extra unit). The returned dict
    follows the order of ``weights``; amounts are at the currency's scale.

    Raises ``TypeError`` if ``total`` is not a Decimal, a weight is not an int or a Decimal, or
    the keys cannot be sorted together; ``ValueError`` if ``total`` is negative or finer than the
    minor unit (``CurrencyError``), if ``weights`` is empty, has a duplicate key or a negative
    weight, or all its weights are 0; ``CurrencyError`` for an invalid currency code.
    """
    currency = normalise(currency)
    minor = _minor("total", total, currency)
    parts = _hamilton(minor, _checked_weights(weights, what="weights"))
    return {key: from_minor(part, currency) for key, part in parts.items()}


def allocate_fee(
    *, fee: Decimal, line_totals: Sequence[tuple[K, Decimal]], currency: str
) -> dict[K, Decimal]:
    """Allocate a payment fee to lines pro-rata to their totals, by largest remainder.

    Invariants: the shares sum exactly to ``fee``; none is negative; the result does not depend on
    the order of ``line_totals``. When every line total is 0 the fee is split equally (still by
    largest remainder, extra units to the first keys in sorted order): the fee was charged all the
    same, and it has to land somewhere for the order's figures to add up. No lines and a 0 fee
    gives ``{}``.

    Raises ``TypeError`` for a non-Decimal amount; ``ValueError`` for a negative amount, an
    amount finer than the minor unit (``CurrencyError``), duplicate line keys, or a non-zero fee
    with no line to carry it.
    """
    currency = normalise(currency)
    fee_minor = _minor("fee", fee, currency)
    totals = [
        (key, _minor(f"line total of {key!r}", amount, currency))
        for key, amount in _pairs(line_totals, what="line_totals")
    ]
    shares = _fee_shares(fee_minor, totals)
    return {key: from_minor(share, currency) for key, share in shares.items()}


def estimate_fee(*, amount: Decimal, currency: str, percent: Decimal, fixed: Decimal) -> Decimal:
    """The configured fee schedule (e.g. 2.9 % + 0.30) applied to a captured ``amount``.

    ``percent`` is a percentage (``Decimal("2.9")`` for 2.9 %), ``fixed`` is in major units.
    The exact ``amount * percent / 100 + fixed`` is rounded half-up to the minor unit once.
    An amount of 0 costs 0: nothing was captured, so no fixed fee either. The fee is not capped
    at the amount, since a gateway does charge its fixed part on a tiny payment; the line profit
    it is subtracted from is what gets clamped at 0.

    Raises ``TypeError`` for a non-Decimal argument; ``ValueError`` for a negative or sub-minor-unit
    ``amount`` (``CurrencyError``), a negative ``fixed`` or a ``percent`` outside 0..100.
    """
    currency = normalise(currency)
    minor = _minor("amount", amount, currency)
    _decimal("percent", percent)
    if not 0 <= percent <= 100:
        raise ValueError(f"percent must be a percentage between 0 and 100 (2.9 for 2.9 %), got {percent}")
    _decimal("fixed", fixed)
    if fixed < 0:
        raise ValueError(f"fixed must not be negative, got {fixed}")
    if minor == 0:
        return from_minor(0, currency)
    exact = minor * Fraction(percent) / 100 + Fraction(fixed) * 10 ** exponent(currency)
    return from_minor(_round_half_up(exact), currency)


def basis_points_of(*, amount: Decimal, bps: int, currency: str) -> Decimal:
    """``amount * bps / 10000``, rounded half-up to the currency's minor unit once.

    Raises ``TypeError`` if ``amount`` is not a Decimal or ``bps`` not an int; ``ValueError`` if
    ``amount`` is negative or finer than the minor unit (``CurrencyError``), or ``bps`` is outside
    0..10000.
    """
    currency = normalise(currency)
    minor = _minor("amount", amount, currency)
    _check_bps("bps", bps)
    return from_minor(_bps_of(minor, bps), currency)


def compute_breakdown(
    *,
    currency: str,
    lines: Sequence[LineInput],
    fee: Decimal,
    share_bps: int,
    weights: Sequence[tuple[K, int]],
) -> list[LineBreakdown]:
    """The profit, donation and beneficiary parts of every line of one order (DESIGN "Money rules").

    Per line, in the order of ``lines``: ``cost = unit_cost * quantity`` (exact);
    ``fee_share`` = the line's part of ``fee``, pro-rata to ``revenue_excl_tax`` by largest
    remainder (see ``allocate_fee``); ``profit = max(0, revenue_excl_tax - cost - fee_share)``;
    ``donation = profit * share_bps / 10000`` rounded half-up once; ``parts`` = the donation split
    by ``weights`` by largest remainder. Since every input is at the minor unit, cost, fee share
    and profit are exact, and the donation is the only rounded figure.

    Invariants: fee shares sum exactly to ``fee``; per line ``0 <= donation <= profit`` and the
    parts sum exactly to the donation. The weights are checked even when nothing is donated, so a
    misconfigured rule fails on every order rather than only on profitable ones.

    Raises ``TypeError`` for an amount that is not a Decimal (floats included), a quantity or
    ``share_bps`` that is not an int, or a line that is not a ``LineInput``; ``ValueError`` for a
    negative amount, an amount finer than the minor unit (``CurrencyError``), a quantity below 1,
    ``share_bps`` outside 0..10000, duplicate line keys, a non-zero fee with no lines, or invalid
    weights (see ``largest_remainder_split``).
    """
    currency = normalise(currency)
    fee_minor = _minor("fee", fee, currency)
    _check_bps("share_bps", share_bps)
    beneficiaries = _checked_weights(weights, what="weights")
    if isinstance(lines, (str, bytes, Mapping)) or not isinstance(lines, Sequence):
        raise TypeError(f"lines must be a sequence of LineInput, not {type(lines).__name__}")

    checked = []
    for line in lines:
        if not isinstance(line, LineInput):
            raise TypeError(f"lines must hold LineInput, not {type(line).__name__}")
        revenue = _minor(f"revenue_excl_tax of line {line.key!r}", line.revenue_excl_tax, currency)
        unit_cost = _minor(f"unit_cost of line {line.key!r}", line.unit_cost, currency)
        if isinstance(line.quantity, bool) or not isinstance(line.quantity, int):
            raise TypeError(f"quantity of line {line.key!r} must be an int, not {type(line.quantity).__name__}")
        if line.quantity < 1:
            raise ValueError(f"quantity of line {line.key!r} must be at least 1, got {line.quantity}")
        checked.append((line, revenue, unit_cost))
    _check_keys([line.key for line, _, _ in checked], what="lines")

    fee_shares = _fee_shares(fee_minor, [(line.key, revenue) for line, revenue, _ in checked])

    breakdowns = []
    for line, revenue, unit_cost in checked:
        cost = unit_cost * line.quantity
        fee_share = fee_shares[line.key]
        # A loss-making line gives nothing, and does not eat into other lines' donations either.
        profit = max(0, revenue - cost - fee_share)
        donation = _bps_of(profit, share_bps)
        parts = _hamilton(donation, beneficiaries)
        breakdowns.append(
            LineBreakdown(
                key=line.key,
                revenue_excl_tax=from_minor(revenue, currency),
                unit_cost=from_minor(unit_cost, currency),
                quantity=line.quantity,
                cost=from_minor(cost, currency),
                fee_share=from_minor(fee_share, currency),
                profit=from_minor(profit, currency),
                share_bps=share_bps,
                donation=from_minor(donation, currency),
                parts=tuple((key, from_minor(part, currency)) for key, part in parts.items()),
            )
        )
    return breakdowns


def reversal_parts(
    *,
    posted: Mapping[K, Decimal],
    reversed_so_far: Mapping[K, Decimal],
    refunded_total: Decimal,
    captured_total: Decimal,
    currency: str,
) -> dict[K, Decimal]:
    """What one refund reverses per key (beneficiary) of the donation posted for its order.

    ``refunded_total`` is the cumulative amount refunded *including* this refund, out of
    ``captured_total``. The cumulative reversal target is ``sum(posted) * refunded_total /
    captured_total`` rounded half-up once, and exactly ``sum(posted)`` once everything is refunded;
    rounding the cumulative target (not each refund) is what keeps a series of partial refunds from
    drifting away from the total. This refund reverses ``target - sum(reversed_so_far)`` (never
    below 0), split pro-rata to ``posted`` by largest remainder, then capped per key at
    ``posted - reversed_so_far``; what a cap cuts off goes to the keys that still have room, pro-rata
    to that room by largest remainder, so the total is kept and the result stays deterministic.

    A ``refunded_total`` above ``captured_total`` is treated as a full refund (capped, not refused):
    the money has left already, and reversing everything is the most that can be reversed.

    Invariants: every part is >= 0; per key ``reversed_so_far + part <= posted``; after this refund
    the total reversed equals the target; a series of refunds adding up to ``captured_total``
    reverses exactly what was posted, key by key. The result has every key of ``posted``, in its order.

    Raises ``TypeError`` for a non-Decimal amount or non-mapping ``posted``/``reversed_so_far``;
    ``ValueError`` for a negative or sub-minor-unit amount (``CurrencyError``), a
    ``captured_total`` of 0, a key in ``reversed_so_far`` that is not in ``posted``, or a key
    already reversed beyond what was posted for it.
    """
    currency = normalise(currency)
    for name, mapping in (("posted", posted), ("reversed_so_far", reversed_so_far)):
        if not isinstance(mapping, Mapping):
            raise TypeError(f"{name} must be a mapping of key to Decimal, not {type(mapping).__name__}")
    unknown = [key for key in reversed_so_far if key not in posted]
    if unknown:
        raise ValueError(f"reversed_so_far has keys that were never posted: {unknown!r}")
    posted_minor = {key: _minor(f"posted[{key!r}]", amount, currency) for key, amount in posted.items()}
    done = {
        key: _minor(f"reversed_so_far[{key!r}]", reversed_so_far.get(key, Decimal(0)), currency)
        for key in posted_minor
    }
    over = [key for key in posted_minor if done[key] > posted_minor[key]]
    if over:
        raise ValueError(f"reversed_so_far exceeds what was posted for {over!r}")
    refunded = _minor("refunded_total", refunded_total, currency)
    captured = _minor("captured_total", captured_total, currency)
    if captured == 0:
        raise ValueError("captured_total must be positive: nothing was captured, so nothing can be refunded")

    whole = sum(posted_minor.values())
    if refunded >= captured:
        target = whole
    else:
        target = _round_half_up(Fraction(whole * refunded, captured))
    amount = max(0, target - sum(done.values()))
    if amount == 0:
        return {key: from_minor(0, currency) for key in posted_minor}

    # amount > 0 implies whole > 0, so the posted amounts are a valid set of weights.
    parts = _hamilton(amount, [(key, Fraction(value)) for key, value in posted_minor.items()])
    room = {key: posted_minor[key] - done[key] for key in posted_minor}
    excess = 0
    for key in parts:
        if parts[key] > room[key]:
            excess += parts[key] - room[key]
            parts[key] = room[key]
    if excess:
        # amount <= whole - sum(done), so the spare room holds the excess; and splitting pro-rata
        # to that room can never give a key more than its own room, so one pass is enough.
        spare = [(key, Fraction(room[key] - parts[key])) for key in parts if room[key] > parts[key]]
        for key, extra in _hamilton(excess, spare).items():
            parts[key] += extra
    return {key: from_minor(parts[key], currency) for key in posted_minor}


# --- internals: validation, then integer arithmetic -----------------------------------------------


def _decimal(name: str, value: object) -> Decimal:
    if not isinstance(value, Decimal):
        # Not even an int: an int silently means major units in one place and minor in another.
        raise TypeError(f"{name} must be a Decimal (built from a string), not {type(value).__name__} {value!r}")
    if not value.is_finite():
        raise ValueError(f"{name} must be a finite Decimal, not {value}")
    return value


def _minor(name: str, amount: object, currency: str) -> int:
    """A non-negative Decimal at the currency's minor unit, as an int of minor units."""
    _decimal(name, amount)
    if amount < 0:
        raise ValueError(f"{name} must not be negative, got {amount} {currency}")
    try:
        return to_minor(amount, currency)
    except CurrencyError:
        raise CurrencyError(
            f"{name} {amount} {currency} is finer than the currency's minor unit ({quantum(currency)})"
        ) from None


def _check_bps(name: str, bps: object) -> None:
    if isinstance(bps, bool) or not isinstance(bps, int):
        raise TypeError(f"{name} must be an int number of basis points, not {type(bps).__name__}")
    if not 0 <= bps <= BPS_WHOLE:
        raise ValueError(f"{name} must be between 0 and {BPS_WHOLE} basis points, got {bps}")


def _pairs(pairs: object, *, what: str) -> list[tuple]:
    # A dict would iterate over its keys only and fail later with a confusing unpacking error.
    if isinstance(pairs, (str, bytes, Mapping)) or not isinstance(pairs, Sequence):
        raise TypeError(f"{what} must be a sequence of (key, value) pairs, not {type(pairs).__name__}")
    checked = []
    for pair in pairs:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"{what} must hold (key, value) pairs, got {pair!r}")
        checked.append(tuple(pair))
    _check_keys([key for key, _ in checked], what=what)
    return checked


def _check_keys(keys: list, *, what: str) -> None:
    # Results are dicts by key: a duplicate would silently merge two lines or two beneficiaries.
    duplicates = sorted(repr(key) for key, count in Counter(keys).items() if count > 1)
    if duplicates:
        raise ValueError(f"{what} has duplicate keys: {', '.join(duplicates)}")
    _tie_rank(keys)


def _checked_weights(weights: object, *, what: str) -> list[tuple[K, Fraction]]:
    checked = []
    for key, weight in _pairs(weights, what=what):
        if isinstance(weight, bool) or not isinstance(weight, (int, Decimal)):
            raise TypeError(f"weight of {key!r} must be an int or a Decimal, not {type(weight).__name__}")
        if isinstance(weight, Decimal) and not weight.is_finite():
            raise ValueError(f"weight of {key!r} must be finite, not {weight}")
        if weight < 0:
            raise ValueError(f"weight of {key!r} must not be negative, got {weight}")
        checked.append((key, Fraction(weight)))
    if not checked:
        raise ValueError(f"{what} is empty: there is nobody to split among")
    if not any(weight for _, weight in checked):
        raise ValueError(f"{what} are all 0: there is no proportion to split by")
    return checked


def _tie_rank(keys: list) -> dict:
    try:
        ordered = sorted(keys)
    except TypeError:
        raise TypeError(
            f"keys must be sortable together (all ints or all strings) to break ties in a fixed order, got {keys!r}"
        ) from None
    return {key: rank for rank, key in enumerate(ordered)}


def _hamilton(total: int, weights: list[tuple[K, Fraction]]) -> dict[K, int]:
    """Largest remainder in integers: ``total >= 0``, weights validated with a positive sum."""
    whole = sum(weight for _, weight in weights)
    rank = _tie_rank([key for key, _ in weights])
    parts: dict[K, int] = {}
    remainders: dict[K, Fraction] = {}
    for key, weight in weights:
        quota = total * weight / whole
        parts[key] = quota.numerator // quota.denominator
        remainders[key] = quota - parts[key]
    leftover = total - sum(parts.values())
    # The remainders add up to `leftover` and each is below 1, so more than `leftover` keys have a
    # positive one: a key of weight 0 never wins a unit, and no key wins two.
    for key in sorted(remainders, key=lambda k: (-remainders[k], rank[k]))[:leftover]:
        parts[key] += 1
    return parts


def _fee_shares(fee: int, totals: list[tuple[K, int]]) -> dict[K, int]:
    if not totals:
        if fee:
            raise ValueError("a non-zero fee needs at least one line to be allocated to")
        return {}
    if not any(total for _, total in totals):
        return _hamilton(fee, [(key, Fraction(1)) for key, _ in totals])
    return _hamilton(fee, [(key, Fraction(total)) for key, total in totals])


def _bps_of(minor: int, bps: int) -> int:
    return _round_half_up(Fraction(minor * bps, BPS_WHOLE))


def _round_half_up(value: Fraction) -> int:
    """Nearest int, halves up; only ever called on non-negative values (amounts are never negative)."""
    return (2 * value.numerator + value.denominator) // (2 * value.denominator)
