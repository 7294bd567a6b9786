"""The money rules of DESIGN as arithmetic: examples first, then Hypothesis properties, then errors.

No database: ``fundraising.allocation`` is pure, so these run with ``-p no:django`` as well.
"""

import re
import subprocess
import sys
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fundraising.allocation import (
    LineBreakdown,
    LineInput,
    allocate_fee,
    basis_points_of,
    compute_breakdown,
    estimate_fee,
    largest_remainder_split,
    reversal_parts,
)
from fundraising.money import CurrencyError, from_minor, quantum, to_minor

D = Decimal
PROPERTY = settings(max_examples=200, deadline=None)


# --- profit examples ------------------------------------------------------------------------------

PROFIT_EXAMPLES = [
    pytest.param(
        "USD", [LineInput("a", D("10.00"), D("10.00"), 1)], D("0.00"), 5000,
        # key, cost, fee_share, profit, donation
        [("a", D("10.00"), D("0.00"), D("0.00"), D("0.00"))],
        id="zero margin gives nothing",
    ),
    pytest.param(
        "USD", [LineInput("a", D("10.00"), D("6.00"), 2)], D("0.59"), 5000,
        [("a", D("12.00"), D("0.59"), D("0.00"), D("0.00"))],
        id="negative margin clamps profit and donation at zero",
    ),
    pytest.param(
        # 2 x 25.00 list, discounted by 7.50: the revenue already carries the discount
        "USD", [LineInput("a", D("42.50"), D("11.25"), 2)], D("0.00"), 2500,
        [("a", D("22.50"), D("0.00"), D("20.00"), D("5.00"))],
        id="discounted line",
    ),
    pytest.param(
        # fee 1.01 on revenues 10 : 20 : 30.01 -> quotas 16.83.. : 33.66.. : 50.51.. cents
        "USD",
        [
            LineInput(1, D("10.00"), D("4.00"), 1),
            LineInput(2, D("20.00"), D("4.00"), 2),
            LineInput(3, D("30.01"), D("5.00"), 3),
        ],
        D("1.01"), 3333,
        [
            (1, D("4.00"), D("0.17"), D("5.83"), D("1.94")),   # 5.83 * 0.3333 = 1.943139
            (2, D("8.00"), D("0.34"), D("11.66"), D("3.89")),  # 3.886278
            (3, D("15.00"), D("0.50"), D("14.51"), D("4.84")),  # 4.836183
        ],
        id="fee allocated pro-rata across several lines",
    ),
    pytest.param(
        "USD", [LineInput("a", D("0.20"), D("0.00"), 1)], D("0.00"), 5000,
        [("a", D("0.00"), D("0.00"), D("0.20"), D("0.10"))],
        id="exact half of a cent needs no rounding",
    ),
    pytest.param(
        "USD", [LineInput("a", D("0.25"), D("0.00"), 1)], D("0.00"), 5000,
        [("a", D("0.00"), D("0.00"), D("0.25"), D("0.13"))],
        id="donation rounds half-up",
    ),
    pytest.param(
        "JPY", [LineInput("a", D("3000"), D("1200"), 1), LineInput("b", D("1000"), D("333"), 1)],
        D("151"), 1000,
        [("a", D("1200"), D("113"), D("1687"), D("169")), ("b", D("333"), D("38"), D("629"), D("63"))],
        id="JPY has no minor unit",
    ),
    pytest.param(
        "KWD", [LineInput("a", D("12.345"), D("3.001"), 3)], D("0.367"), 1250,
        [("a", D("9.003"), D("0.367"), D("2.975"), D("0.372"))],  # 0.371875 -> 0.372
        id="KWD has three decimals",
    ),
]


@pytest.mark.parametrize("currency, lines, fee, share_bps, expected", PROFIT_EXAMPLES)
def test_compute_breakdown_examples(currency, lines, fee, share_bps, expected):
    # given an order's lines, its fee and a share rule with one beneficiary
    # when its breakdown is computed
    rows = compute_breakdown(currency=currency, lines=lines, fee=fee, share_bps=share_bps, weights=[("p6", 1)])

    # then every figure is exact, the fee is fully allocated and the single beneficiary gets it all
    assert [(r.key, r.cost, r.fee_share, r.profit, r.donation) for r in rows] == expected
    assert sum(r.fee_share for r in rows) == fee
    assert all(r.parts == (("p6", r.donation),) for r in rows)
    assert all(r.share_bps == share_bps for r in rows)


def test_compute_breakdown_keeps_line_order_and_stores_every_figure_at_the_currency_scale():
    # given lines in a non-sorted order and amounts written without trailing zeros
    lines = [LineInput(7, D("10"), D("2.5"), 2), LineInput(3, D("5.00"), D("1.00"), 1)]

    # when the breakdown is computed
    rows = compute_breakdown(currency="usd", lines=lines, fee=D("0.3"), share_bps=1000, weights=[("p6", 1)])

    # then rows follow the input and carry two decimals, as a DecimalField would store them
    assert rows == [
        LineBreakdown(
            key=7, revenue_excl_tax=D("10.00"), unit_cost=D("2.50"), quantity=2, cost=D("5.00"),
            fee_share=D("0.20"), profit=D("4.80"), share_bps=1000, donation=D("0.48"),
            parts=(("p6", D("0.48")),),
        ),
        LineBreakdown(
            key=3, revenue_excl_tax=D("5.00"), unit_cost=D("1.00"), quantity=1, cost=D("1.00"),
            fee_share=D("0.10"), profit=D("3.90"), share_bps=1000, donation=D("0.39"),
            parts=(("p6", D("0.39")),),
        ),
    ]
    assert [str(r.profit) for r in rows] == ["4.80", "3.90"]


def test_three_beneficiaries_share_a_remainder_cent_with_the_tie_to_the_first_sorted_key():
    # given a line whose donation is 0.10, split 1:1:1, weights listed out of key order
    lines = [LineInput("a", D("1.00"), D("0.80"), 1)]

    # when the breakdown is computed
    (row,) = compute_breakdown(
        currency="USD", lines=lines, fee=D("0.00"), share_bps=5000,
        weights=[("queer-russia", 1), ("p6-campaign", 1), ("rainbow-fund", 1)],
    )

    # then the odd cent goes to the first key in sorted order, and parts keep the weights' order
    assert row.donation == D("0.10")
    assert row.parts == (
        ("queer-russia", D("0.03")),
        ("p6-campaign", D("0.04")),
        ("rainbow-fund", D("0.03")),
    )


def test_zero_share_still_returns_a_zero_part_per_beneficiary():
    # given a profitable line under a 0 bps rule
    # when the breakdown is computed
    (row,) = compute_breakdown(
        currency="USD", lines=[LineInput(1, D("9.00"), D("1.00"), 1)], fee=D("0.00"), share_bps=0,
        weights=[(1, 2), (2, 1)],
    )

    # then profit is recorded but nothing is donated
    assert (row.profit, row.donation, row.parts) == (D("8.00"), D("0.00"), ((1, D("0.00")), (2, D("0.00"))))


@pytest.mark.parametrize(
    "total, weights, currency, expected",
    [
        pytest.param(D("0.10"), [(3, 1), (1, 1), (2, 1)], "USD", {1: D("0.04"), 2: D("0.03"), 3: D("0.03")}, id="tie"),
        pytest.param(D("1.00"), [("a", 1), ("b", 2)], "USD", {"a": D("0.33"), "b": D("0.67")}, id="1:2"),
        pytest.param(D("1.00"), [("a", 0), ("b", 3)], "USD", {"a": D("0.00"), "b": D("1.00")}, id="zero weight"),
        pytest.param(D("0.00"), [("a", 1), ("b", 1)], "USD", {"a": D("0.00"), "b": D("0.00")}, id="zero total"),
        pytest.param(
            D("1.00"), [("a", D("0.5")), ("b", D("0.25")), ("c", D("0.25"))], "USD",
            {"a": D("0.50"), "b": D("0.25"), "c": D("0.25")}, id="decimal weights",
        ),
        pytest.param(
            D("100"), [("a", 1), ("b", 1), ("c", 1)], "JPY", {"a": D("34"), "b": D("33"), "c": D("33")}, id="JPY"
        ),
        pytest.param(
            D("0.002"), [("a", 1), ("b", 1), ("c", 1)], "KWD", {"a": D("0.001"), "b": D("0.001"), "c": D("0")},
            id="KWD",
        ),
    ],
)
def test_largest_remainder_split_examples(total, weights, currency, expected):
    # given a total and weights / when split / then the parts are exact and add up
    parts = largest_remainder_split(total=total, weights=weights, currency=currency)
    assert parts == expected
    assert sum(parts.values()) == total


def test_largest_remainder_split_gives_the_unit_to_the_largest_remainder_not_the_first_key():
    # given weights whose quotas are 1.4, 2.6 and 6.0 cents
    # when 0.10 is split
    parts = largest_remainder_split(total=D("0.10"), weights=[("a", 7), ("b", 13), ("c", 30)], currency="USD")

    # then "b" (remainder 0.6) wins the leftover cent over "a" (remainder 0.4)
    assert parts == {"a": D("0.01"), "b": D("0.03"), "c": D("0.06")}


@pytest.mark.parametrize(
    "fee, line_totals, expected",
    [
        pytest.param(
            D("0.59"), [(1, D("10.00")), (2, D("5.00")), (3, D("5.00"))], {1: D("0.29"), 2: D("0.15"), 3: D("0.15")},
            id="pro-rata",
        ),
        pytest.param(D("0.31"), [(1, D("0.00")), (2, D("0.00"))], {1: D("0.16"), 2: D("0.15")}, id="all zero: equal"),
        pytest.param(
            D("0.30"), [(1, D("0.00")), (2, D("5.00"))], {1: D("0.00"), 2: D("0.30")}, id="free line pays none"
        ),
        pytest.param(D("0.00"), [], {}, id="no lines, no fee"),
    ],
)
def test_allocate_fee_examples(fee, line_totals, expected):
    # given a fee and line totals / when allocated / then shares are exact and add up to the fee
    shares = allocate_fee(fee=fee, line_totals=line_totals, currency="USD")
    assert shares == expected
    assert sum(shares.values(), D("0")) == fee


@pytest.mark.parametrize(
    "amount, currency, percent, fixed, expected",
    [
        pytest.param(D("20.00"), "USD", D("2.9"), D("0.30"), D("0.88"), id="2.9% + 0.30"),
        pytest.param(D("10.00"), "USD", D("2.9"), D("0.30"), D("0.59"), id="exact"),
        pytest.param(D("0.50"), "USD", D("2.9"), D("0.30"), D("0.31"), id="0.3145 rounds down"),
        pytest.param(D("12.50"), "USD", D("1.4"), D("0.25"), D("0.43"), id="0.425 rounds half-up once"),
        pytest.param(D("0.00"), "USD", D("2.9"), D("0.30"), D("0.00"), id="nothing captured, no fee"),
        pytest.param(D("0.10"), "USD", D("2.9"), D("0.30"), D("0.30"), id="not capped at the amount"),
        pytest.param(D("5000"), "JPY", D("3.6"), D("0"), D("180"), id="JPY"),
        pytest.param(D("10.005"), "KWD", D("2.5"), D("0.100"), D("0.350"), id="KWD"),
    ],
)
def test_estimate_fee_examples(amount, currency, percent, fixed, expected):
    # given a configured schedule / when applied / then rounded half-up once to the minor unit
    assert estimate_fee(amount=amount, currency=currency, percent=percent, fixed=fixed) == expected


@pytest.mark.parametrize(
    "amount, bps, currency, expected",
    [
        (D("13.97"), 5000, "USD", D("6.99")),
        (D("0.01"), 4999, "USD", D("0.00")),
        (D("0.01"), 5000, "USD", D("0.01")),
        (D("99.99"), 10000, "USD", D("99.99")),
        (D("1001"), 2500, "JPY", D("250")),
        (D("1002"), 2500, "JPY", D("251")),
    ],
)
def test_basis_points_of_examples(amount, bps, currency, expected):
    assert basis_points_of(amount=amount, bps=bps, currency=currency) == expected


def test_reversal_of_two_half_refunds_reverses_everything_exactly():
    # given 3.01 posted as 1.00 / 2.01 on an order of 10.00
    posted = {"a": D("1.00"), "b": D("2.01")}

    # when half is refunded, then the other half
    first = reversal_parts(posted=posted, reversed_so_far={}, refunded_total=D("5.00"), captured_total=D("10.00"),
                           currency="USD")
    second = reversal_parts(posted=posted, reversed_so_far=first, refunded_total=D("10.00"),
                            captured_total=D("10.00"), currency="USD")

    # then the first reverses half of 3.01 rounded half-up (1.51), the second the rest, key by key
    assert first == {"a": D("0.50"), "b": D("1.01")}
    assert second == {"a": D("0.50"), "b": D("1.00")}
    assert {k: first[k] + second[k] for k in posted} == posted


def test_reversal_caps_a_key_at_its_room_and_gives_the_rest_to_the_others():
    # given "a" has already had everything reversed (an earlier manual adjustment, say)
    posted = {"a": D("1.00"), "b": D("1.00")}
    reversed_so_far = {"a": D("1.00")}

    # when a refund takes the order to 3/4 refunded (target 1.50, so 0.50 more)
    parts = reversal_parts(
        posted=posted, reversed_so_far=reversed_so_far, refunded_total=D("7.50"), captured_total=D("10.00"),
        currency="USD",
    )

    # then "a" gets nothing more and "b" carries the whole 0.50
    assert parts == {"a": D("0.00"), "b": D("0.50")}


def test_reversal_never_goes_below_zero_nor_above_full_when_refunds_overshoot():
    posted = {1: D("2.00"), 2: D("1.00")}
    # given nothing new to reverse (the target is already reached)
    assert reversal_parts(
        posted=posted, reversed_so_far={1: D("1.00"), 2: D("0.50")}, refunded_total=D("1.00"),
        captured_total=D("2.00"), currency="USD",
    ) == {1: D("0.00"), 2: D("0.00")}
    # given a refunded total above the captured one, it is treated as a full refund
    assert reversal_parts(
        posted=posted, reversed_so_far={}, refunded_total=D("3.00"), captured_total=D("2.00"), currency="USD",
    ) == posted


def test_reversal_of_nothing_posted_is_nothing():
    assert reversal_parts(
        posted={"a": D("0.00")}, reversed_so_far={}, refunded_total=D("5"), captured_total=D("5"), currency="JPY",
    ) == {"a": D("0")}


def test_allocation_module_imports_no_django():
    # given a fresh interpreter / when the module is imported / then Django was never loaded
    code = "import sys, fundraising.allocation; print('django' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- properties -------------------------------------------------------------------------------------

CURRENCIES = st.sampled_from(["USD", "JPY", "KWD"])


def amounts(currency, max_minor=10**9):
    return st.integers(0, max_minor).map(lambda minor: from_minor(minor, currency))


@st.composite
def splits(draw):
    currency = draw(CURRENCIES)
    total = draw(amounts(currency))
    keys = draw(st.lists(st.integers(0, 50), min_size=1, max_size=8, unique=True))
    weight = st.one_of(
        st.integers(0, 1000),
        st.decimals(min_value=0, max_value=100, places=3, allow_nan=False, allow_infinity=False),
    )
    weights = [(key, draw(weight)) for key in keys]
    if not any(w for _, w in weights):
        weights[0] = (weights[0][0], 1)
    return currency, total, weights


@PROPERTY
@given(case=splits(), data=st.data())
def test_split_parts_sum_exactly_are_never_negative_and_within_one_unit(case, data):
    # given any total and weights
    currency, total, weights = case

    # when split
    parts = largest_remainder_split(total=total, weights=weights, currency=currency)

    # then parts add up, none is negative, each is less than one minor unit from its exact share
    assert sum(parts.values()) == total
    assert all(part >= 0 for part in parts.values())
    whole = sum(Fraction(w) for _, w in weights)
    for key, weight in weights:
        exact = Fraction(total) * Fraction(weight) / whole
        assert abs(Fraction(parts[key]) - exact) < Fraction(quantum(currency))
        if weight == 0:
            assert parts[key] == 0

    # and the input order does not matter
    shuffled = data.draw(st.permutations(weights))
    assert largest_remainder_split(total=total, weights=shuffled, currency=currency) == parts


@PROPERTY
@given(currency=CURRENCIES, data=st.data())
def test_fee_shares_sum_to_the_fee_whatever_the_order(currency, data):
    # given a fee and any line totals (zeros included)
    fee = data.draw(amounts(currency, 10**6))
    totals = data.draw(st.lists(amounts(currency, 10**7), min_size=1, max_size=8))
    line_totals = list(enumerate(totals))

    # when the fee is allocated
    shares = allocate_fee(fee=fee, line_totals=line_totals, currency=currency)

    # then the shares add up to the fee, none negative, regardless of the order of the lines
    assert sum(shares.values()) == fee
    assert all(share >= 0 for share in shares.values())
    shuffled = data.draw(st.permutations(line_totals))
    assert allocate_fee(fee=fee, line_totals=shuffled, currency=currency) == shares


@st.composite
def orders(draw):
    currency = draw(CURRENCIES)
    lines = [
        LineInput(
            key,
            draw(amounts(currency, 10**7)),
            draw(amounts(currency, 10**6)),
            draw(st.integers(1, 20)),
        )
        for key in range(draw(st.integers(1, 6)))
    ]
    fee = draw(amounts(currency, 10**5))
    share_bps = draw(st.integers(0, 10_000))
    n = draw(st.integers(1, 4))
    weights = [(f"b{i}", draw(st.integers(1 if i == 0 else 0, 100))) for i in range(n)]
    return currency, lines, fee, share_bps, weights


@PROPERTY
@given(order=orders())
def test_breakdown_invariants(order):
    # given any order
    currency, lines, fee, share_bps, weights = order

    # when its breakdown is computed
    rows = compute_breakdown(currency=currency, lines=lines, fee=fee, share_bps=share_bps, weights=weights)

    # then the fee is fully allocated, and per line 0 <= donation <= profit and the parts add up
    assert [row.key for row in rows] == [line.key for line in lines]
    assert sum(row.fee_share for row in rows) == fee
    for line, row in zip(lines, rows, strict=True):
        assert row.cost == line.unit_cost * line.quantity
        assert row.profit == max(D(0), line.revenue_excl_tax - row.cost - row.fee_share)
        assert row.profit >= 0
        assert 0 <= row.donation <= row.profit
        assert row.donation == basis_points_of(amount=row.profit, bps=share_bps, currency=currency)
        assert sum(part for _, part in row.parts) == row.donation
        assert all(part >= 0 for _, part in row.parts)
        assert [key for key, _ in row.parts] == [key for key, _ in weights]


@st.composite
def refund_histories(draw):
    currency = draw(CURRENCIES)
    keys = draw(st.lists(st.sampled_from("abcde"), min_size=1, max_size=5, unique=True))
    posted = {key: draw(amounts(currency, 10**5)) for key in keys}
    captured_minor = draw(st.integers(1, 10**6))
    # cut points inside (0, captured) give partial refunds; the last one is full or short of it
    cuts = sorted(draw(st.lists(st.integers(1, captured_minor), max_size=6)))
    if draw(st.booleans()):
        cuts.append(captured_minor)
    return currency, posted, captured_minor, cuts


@PROPERTY
@given(history=refund_histories())
def test_partial_refunds_never_over_reverse_and_a_full_refund_reverses_everything(history):
    # given a posted donation and a series of refunds (cumulative totals, possibly repeated)
    currency, posted, captured_minor, cuts = history
    captured = from_minor(captured_minor, currency)
    whole_minor = sum(to_minor(amount, currency) for amount in posted.values())
    reversed_so_far = {key: from_minor(0, currency) for key in posted}

    for cut in cuts:
        # when each refund is reversed
        refunded = from_minor(cut, currency)
        parts = reversal_parts(
            posted=posted, reversed_so_far=reversed_so_far, refunded_total=refunded,
            captured_total=captured, currency=currency,
        )
        reversed_so_far = {key: reversed_so_far[key] + parts[key] for key in posted}

        # then no part is negative, no key goes beyond what was posted for it,
        # and the cumulative reversal is the pro-rata target, rounded half-up once
        assert all(part >= 0 for part in parts.values())
        assert all(reversed_so_far[key] <= posted[key] for key in posted)
        target_minor = (2 * whole_minor * cut + captured_minor) // (2 * captured_minor)
        assert sum(reversed_so_far.values()) == from_minor(target_minor, currency)

    # and once the refunds add up to the captured total, everything is reversed, key by key
    if cuts and cuts[-1] == captured_minor:
        assert reversed_so_far == posted


# --- errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(total=D("0.105"), weights=[("a", 1)], currency="USD"), CurrencyError,
         "finer than the currency's minor unit"),
        (dict(total=D("1.5"), weights=[("a", 1)], currency="JPY"), CurrencyError,
         "finer than the currency's minor unit"),
        (dict(total=D("-0.01"), weights=[("a", 1)], currency="USD"), ValueError, "total must not be negative"),
        (dict(total=0.10, weights=[("a", 1)], currency="USD"), TypeError, "total must be a Decimal"),
        (dict(total=D("NaN"), weights=[("a", 1)], currency="USD"), ValueError, "finite"),
        (dict(total=D("1.00"), weights=[], currency="USD"), ValueError, "weights is empty"),
        (dict(total=D("1.00"), weights=[("a", 0), ("b", 0)], currency="USD"), ValueError, "all 0"),
        (dict(total=D("1.00"), weights=[("a", 1), ("b", -1)], currency="USD"), ValueError,
         "weight of 'b' must not be negative"),
        (dict(total=D("1.00"), weights=[("a", 1), ("a", 2)], currency="USD"), ValueError, "duplicate keys: 'a'"),
        (dict(total=D("1.00"), weights=[("a", 0.5)], currency="USD"), TypeError,
         "weight of 'a' must be an int or a Decimal"),
        (dict(total=D("1.00"), weights=[("a", 1), (2, 1)], currency="USD"), TypeError, "sortable together"),
        (dict(total=D("1.00"), weights={"a": 1}, currency="USD"), TypeError, "sequence of (key, value) pairs"),
        (dict(total=D("1.00"), weights=[("a", 1)], currency="US"), CurrencyError, "not an ISO 4217 currency code"),
    ],
)
def test_largest_remainder_split_refuses(kwargs, error, message):
    with pytest.raises(error, match=_literal(message)):
        largest_remainder_split(**kwargs)


def _breakdown(**overrides):
    kwargs = dict(
        currency="USD", lines=[LineInput(1, D("10.00"), D("2.00"), 1)], fee=D("0.30"), share_bps=5000,
        weights=[("p6", 1)],
    )
    kwargs.update(overrides)
    return compute_breakdown(**kwargs)


@pytest.mark.parametrize(
    "overrides, error, message",
    [
        (dict(lines=[LineInput(1, 10.0, D("2.00"), 1)]), TypeError, "revenue_excl_tax of line 1 must be a Decimal"),
        (dict(lines=[LineInput(1, D("10.00"), 2.0, 1)]), TypeError, "unit_cost of line 1 must be a Decimal"),
        (dict(fee=0.3), TypeError, "fee must be a Decimal"),
        (dict(lines=[LineInput(1, D("10.001"), D("2.00"), 1)]), CurrencyError,
         "revenue_excl_tax of line 1 10.001 USD is finer"),
        (dict(lines=[LineInput(1, D("10.00"), D("2.005"), 1)]), CurrencyError,
         "unit_cost of line 1 2.005 USD is finer"),
        (dict(fee=D("0.305")), CurrencyError, "fee 0.305 USD is finer"),
        (dict(lines=[LineInput(1, D("-1.00"), D("2.00"), 1)]), ValueError, "must not be negative"),
        (dict(fee=D("-0.30")), ValueError, "fee must not be negative"),
        (dict(lines=[LineInput(1, D("10.00"), D("2.00"), 0)]), ValueError, "quantity of line 1 must be at least 1"),
        (dict(lines=[LineInput(1, D("10.00"), D("2.00"), D("1"))]), TypeError, "quantity of line 1 must be an int"),
        (dict(share_bps=10_001), ValueError, "share_bps must be between 0 and 10000"),
        (dict(share_bps=-1), ValueError, "share_bps must be between 0 and 10000"),
        (dict(share_bps=D("5000")), TypeError, "share_bps must be an int"),
        (dict(lines=[LineInput(1, D("1.00"), D("0"), 1), LineInput(1, D("2.00"), D("0"), 1)]), ValueError,
         "duplicate keys: 1"),
        (dict(lines=[]), ValueError, "a non-zero fee needs at least one line"),
        (dict(lines=[(1, D("10.00"), D("2.00"), 1)]), TypeError, "lines must hold LineInput"),
        (dict(weights=[("p6", 0)]), ValueError, "weights are all 0"),
    ],
)
def test_compute_breakdown_refuses(overrides, error, message):
    with pytest.raises(error, match=_literal(message)):
        _breakdown(**overrides)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(amount=10.0, currency="USD", percent=D("2.9"), fixed=D("0.30")), TypeError, "amount must be a Decimal"),
        (dict(amount=D("10.00"), currency="USD", percent=2.9, fixed=D("0.30")), TypeError, "percent must be a Decimal"),
        (dict(amount=D("10.00"), currency="USD", percent=D("290"), fixed=D("0.30")), ValueError, "between 0 and 100"),
        (dict(amount=D("10.00"), currency="USD", percent=D("2.9"), fixed=D("-0.30")), ValueError,
         "fixed must not be negative"),
        (dict(amount=D("10.001"), currency="USD", percent=D("2.9"), fixed=D("0.30")), CurrencyError,
         "amount 10.001 USD is finer"),
    ],
)
def test_estimate_fee_refuses(kwargs, error, message):
    with pytest.raises(error, match=_literal(message)):
        estimate_fee(**kwargs)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(fee=D("0.30"), line_totals=[]), ValueError, "a non-zero fee needs at least one line"),
        (dict(fee=D("0.30"), line_totals=[(1, D("-1.00"))]), ValueError, "line total of 1 must not be negative"),
        (dict(fee=D("0.30"), line_totals=[(1, 1)]), TypeError, "line total of 1 must be a Decimal"),
    ],
)
def test_allocate_fee_refuses(kwargs, error, message):
    with pytest.raises(error, match=_literal(message)):
        allocate_fee(currency="USD", **kwargs)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(amount=D("1.00"), bps=10_001), ValueError, "bps must be between 0 and 10000"),
        (dict(amount=D("1.00"), bps=True), TypeError, "bps must be an int"),
        (dict(amount=D("-1.00"), bps=100), ValueError, "amount must not be negative"),
    ],
)
def test_basis_points_of_refuses(kwargs, error, message):
    with pytest.raises(error, match=_literal(message)):
        basis_points_of(currency="USD", **kwargs)


def _reversal(**overrides):
    kwargs = dict(
        posted={"a": D("1.00")}, reversed_so_far={}, refunded_total=D("5.00"), captured_total=D("10.00"),
        currency="USD",
    )
    kwargs.update(overrides)
    return reversal_parts(**kwargs)


@pytest.mark.parametrize(
    "overrides, error, message",
    [
        (dict(captured_total=D("0.00")), ValueError, "captured_total must be positive"),
        (dict(reversed_so_far={"b": D("0.10")}), ValueError, "keys that were never posted: ['b']"),
        (dict(reversed_so_far={"a": D("1.01")}), ValueError, "exceeds what was posted for ['a']"),
        (dict(refunded_total=D("-1.00")), ValueError, "refunded_total must not be negative"),
        (dict(refunded_total=5.0), TypeError, "refunded_total must be a Decimal"),
        (dict(posted={"a": D("1.001")}), CurrencyError, "posted['a'] 1.001 USD is finer"),
        (dict(posted=[("a", D("1.00"))]), TypeError, "posted must be a mapping"),
    ],
)
def test_reversal_parts_refuses(overrides, error, message):
    with pytest.raises(error, match=_literal(message)):
        _reversal(**overrides)


def _literal(message):
    return re.escape(message)
