"""Tests that kill the mutants tests/fundraising/test_allocation.py let survive (mutmut 3 on fundraising/allocation.py).

Each test names the rule it pins; most are about the refusals, whose whole message is checked (which argument,
which key, which type, which figure), since a message that names the wrong argument misleads whoever reads the
log. The arithmetic ones pin the fee schedule's percent bounds and how a reversal's capped excess is shared.
No database: ``fundraising.allocation`` is pure.

Re-run (outside the shared tree, so no mutated file can be left in it): copy the working tree without .git/.venv/var
to a scratch directory, put a setup.cfg there with ``[mutmut]`` ``source_paths = fundraising``,
``only_mutate = fundraising/allocation.py``, ``also_copy`` = shop, catalog, locale, manage.py,
``pytest_add_cli_args_test_selection`` = this file and test_allocation.py, ``pytest_add_cli_args`` =
``-x -q -p no:cacheprovider``, ``use_git_change_detection = false``, and run ``mutmut run --max-children 1``
with this project's venv on PATH (about 4 minutes on 2 cores). The 4 survivors left are equivalent mutants.
"""

from decimal import Decimal

import pytest

from fundraising.allocation import (
    LineInput,
    allocate_fee,
    basis_points_of,
    compute_breakdown,
    estimate_fee,
    largest_remainder_split,
    reversal_parts,
)
from fundraising.money import CurrencyError

D = Decimal


def _refused(error, message, function, **kwargs):
    """``function(**kwargs)`` raises ``error`` with exactly ``message``."""
    with pytest.raises(error) as raised:
        function(**kwargs)
    assert str(raised.value) == message


# --- the fee schedule: percent is a percentage, both bounds included ------------------------------------------


@pytest.mark.parametrize("percent, expected", [
    (D("0"), D("0.30")),      # no percentage at all: the fixed part alone
    (D("0.5"), D("0.35")),    # below 1 %: 0.05 + 0.30
    (D("100"), D("10.30")),   # the whole amount, plus the fixed part
])
def test_estimate_fee_accepts_a_percent_from_0_to_100_inclusive(percent, expected):
    assert estimate_fee(amount=D("10.00"), currency="USD", percent=percent, fixed=D("0.30")) == expected


@pytest.mark.parametrize("percent", [D("100.5"), D("-0.1")])
def test_estimate_fee_refuses_a_percent_outside_0_to_100(percent):
    _refused(ValueError, f"percent must be a percentage between 0 and 100 (2.9 for 2.9 %), got {percent}",
             estimate_fee, amount=D("10.00"), currency="USD", percent=percent, fixed=D("0.30"))


def test_estimate_fee_names_a_fixed_part_that_is_not_a_decimal():
    _refused(TypeError, "fixed must be a Decimal (built from a string), not float 0.3",
             estimate_fee, amount=D("10.00"), currency="USD", percent=D("2.9"), fixed=0.3)


# --- allocate_fee ---------------------------------------------------------------------------------------------


def test_allocate_fee_names_a_negative_fee():
    _refused(ValueError, "fee must not be negative, got -0.30 USD",
             allocate_fee, fee=D("-0.30"), line_totals=[(1, D("10.00"))], currency="USD")


@pytest.mark.parametrize("line_totals, kind", [
    ({1: D("10.00")}, "dict"),
    ("ab", "str"),
    ((pair for pair in [(1, D("10.00"))]), "generator"),  # iterable, but not a sequence
])
def test_allocate_fee_refuses_line_totals_that_are_not_a_sequence_of_pairs(line_totals, kind):
    _refused(TypeError, f"line_totals must be a sequence of (key, value) pairs, not {kind}",
             allocate_fee, fee=D("0.30"), line_totals=line_totals, currency="USD")


@pytest.mark.parametrize("pair", ["ab", (1, D("10.00"), D("1.00")), (1,)])
def test_allocate_fee_refuses_a_line_total_that_is_not_a_pair(pair):
    # "ab" has two items, but it is not a (key, value) pair: either condition alone refuses
    _refused(TypeError, f"line_totals must hold (key, value) pairs, got {pair!r}",
             allocate_fee, fee=D("0.30"), line_totals=[pair], currency="USD")


def test_allocate_fee_names_duplicate_line_keys():
    _refused(ValueError, "line_totals has duplicate keys: 1",
             allocate_fee, fee=D("0.30"), line_totals=[(1, D("1.00")), (1, D("2.00"))], currency="USD")


def test_allocate_fee_refuses_a_fee_with_no_line_to_carry_it():
    _refused(ValueError, "a non-zero fee needs at least one line to be allocated to",
             allocate_fee, fee=D("0.30"), line_totals=[], currency="USD")


# --- weights --------------------------------------------------------------------------------------------------


def test_every_duplicate_weight_key_is_named_comma_separated():
    _refused(ValueError, "weights has duplicate keys: 'a', 'b'",
             largest_remainder_split, total=D("1.00"), weights=[("a", 1), ("b", 1), ("a", 1), ("b", 1)],
             currency="USD")


@pytest.mark.parametrize("weight, message", [
    (0.5, "weight of 'a' must be an int or a Decimal, not float"),
    (D("NaN"), "weight of 'a' must be finite, not NaN"),
    (D("Infinity"), "weight of 'a' must be finite, not Infinity"),
])
def test_a_bad_weight_is_named_with_its_key(weight, message):
    error = TypeError if isinstance(weight, float) else ValueError
    _refused(error, message, largest_remainder_split, total=D("1.00"), weights=[("a", weight)], currency="USD")


def test_weights_that_are_not_a_sequence_of_pairs_are_named_weights():
    _refused(TypeError, "weights must be a sequence of (key, value) pairs, not dict",
             largest_remainder_split, total=D("1.00"), weights={"a": 1}, currency="USD")


def test_basis_points_of_names_the_type_of_a_bad_bps():
    _refused(TypeError, "bps must be an int number of basis points, not bool",
             basis_points_of, amount=D("1.00"), bps=True, currency="USD")


# --- compute_breakdown ----------------------------------------------------------------------------------------

LINE = LineInput(1, D("10.00"), D("2.00"), 1)


def _breakdown(**overrides):
    kwargs = dict(currency="USD", lines=[LINE], fee=D("0.30"), share_bps=5000, weights=[("p6", 1)])
    kwargs.update(overrides)
    return compute_breakdown(**kwargs)


@pytest.mark.parametrize("lines, kind", [
    ((line for line in [LINE]), "generator"),  # iterable, but not a sequence: refused, not consumed
    ({LINE}, "set"),
    ("ab", "str"),
    ({1: LINE}, "dict"),
])
def test_compute_breakdown_refuses_lines_that_are_not_a_sequence(lines, kind):
    _refused(TypeError, f"lines must be a sequence of LineInput, not {kind}", _breakdown, lines=lines)


def test_compute_breakdown_names_the_type_of_a_line_that_is_not_a_line_input():
    _refused(TypeError, "lines must hold LineInput, not tuple", _breakdown, lines=[(1, D("10.00"), D("2.00"), 1)])


def test_compute_breakdown_names_the_type_of_a_quantity_that_is_not_an_int():
    _refused(TypeError, "quantity of line 1 must be an int, not Decimal",
             _breakdown, lines=[LineInput(1, D("10.00"), D("2.00"), D("1"))])


def test_compute_breakdown_names_duplicate_line_keys_as_lines():
    _refused(ValueError, "lines has duplicate keys: 1",
             _breakdown, lines=[LineInput(1, D("1.00"), D("0"), 1), LineInput(1, D("2.00"), D("0"), 1)])


# --- reversal_parts -------------------------------------------------------------------------------------------


def _reversal(**overrides):
    kwargs = dict(posted={"a": D("1.00")}, reversed_so_far={}, refunded_total=D("5.00"), captured_total=D("10.00"),
                  currency="USD")
    kwargs.update(overrides)
    return reversal_parts(**kwargs)


@pytest.mark.parametrize("overrides, error, message", [
    (dict(reversed_so_far=[("a", D("0.10"))]), TypeError,
     "reversed_so_far must be a mapping of key to Decimal, not list"),
    (dict(reversed_so_far={"a": D("-0.10")}), ValueError, "reversed_so_far['a'] must not be negative, got -0.10 USD"),
    (dict(reversed_so_far={"a": D("0.105")}), CurrencyError,
     "reversed_so_far['a'] 0.105 USD is finer than the currency's minor unit (0.01)"),
    (dict(captured_total=D("-1.00")), ValueError, "captured_total must not be negative, got -1.00 USD"),
    (dict(captured_total=D("0.00")), ValueError,
     "captured_total must be positive: nothing was captured, so nothing can be refunded"),
])
def test_reversal_parts_refusals_name_the_argument_and_key(overrides, error, message):
    _refused(error, message, _reversal, **overrides)


def test_a_refund_above_the_capture_reverses_what_is_left_and_no_more():
    # 12.00 refunded of 10.00 captured (capped, not refused): everything still posted is reversed, key by key
    parts = _reversal(posted={"b": D("2.00"), "a": D("1.00")}, reversed_so_far={"a": D("0.50")},
                      refunded_total=D("12.00"))
    assert parts == {"b": D("2.00"), "a": D("0.50")}
    assert list(parts) == ["b", "a"]  # the order of posted


def test_what_a_cap_cuts_off_goes_to_the_keys_with_room_pro_rata_to_their_spare_room():
    # posted a 0.01, b 0.01, c 0.02; a fully reversed already. Refunding 0.80 of 1.00: target 0.03, so 0.02 now.
    # Pro-rata to posted that is a 0.01 (a tie with b, broken by key order), b 0.00, c 0.01; a has no room, so its
    # cent goes to the spare room left: b 0.01 and c 0.01 (2 - 1) tie, and b, first in key order, gets it.
    # (Sharing by room plus part, b 1 : c 3, would give it to c.)
    parts = _reversal(posted={"a": D("0.01"), "b": D("0.01"), "c": D("0.02")}, reversed_so_far={"a": D("0.01")},
                      refunded_total=D("0.80"), captured_total=D("1.00"))
    assert parts == {"a": D("0.00"), "b": D("0.01"), "c": D("0.01")}
