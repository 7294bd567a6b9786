"""Stripe's minor units (https://docs.stripe.com/currencies) and amounts typed by people (fundraising.money)."""

from decimal import Decimal as D

import pytest

from fundraising.money import (
    AmountError,
    CurrencyError,
    from_minor,
    from_stripe_minor,
    parse_amount,
    stripe_quantum,
    to_minor,
    to_stripe_minor,
)

ZERO_DECIMAL = ["BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "VND", "VUV", "XAF", "XOF",
                "XPF"]
SENT_AS_TWO_DECIMALS = ["ISK", "HUF", "TWD", "UGX"]
THREE_DECIMAL = ["BHD", "JOD", "KWD", "OMR", "TND"]

# (amount, currency, what Stripe is sent, what reading it back gives, exactly: the ISO scale)
BOTH_WAYS = [
    *[(D("5"), code, 5, "5.00" if code == "MGA" else "5") for code in ZERO_DECIMAL],
    (D("5"), "ISK", 500, "5"),
    (D("1234"), "HUF", 123400, "1234.00"),
    (D("5"), "TWD", 500, "5.00"),
    (D("5"), "UGX", 500, "5"),
    *[(D("1.230"), code, 1230, "1.230") for code in THREE_DECIMAL],
    (D("12.34"), "USD", 1234, "12.34"),
    (D("0.01"), "EUR", 1, "0.01"),
    (D("12345678901.99"), "USD", 1234567890199, "12345678901.99"),
]


@pytest.mark.parametrize("amount, currency, minor, read_back", BOTH_WAYS,
                         ids=[f"{row[0]} {row[1]}" for row in BOTH_WAYS])
def test_stripe_minor_units_both_ways(amount, currency, minor, read_back):
    assert to_stripe_minor(amount, currency) == minor
    assert type(to_stripe_minor(amount, currency)) is int
    back = from_stripe_minor(minor, currency)
    assert str(back) == read_back and back == amount


def test_the_special_cases_read_back_as_the_brief_states():
    assert from_stripe_minor(500, "ISK") == D("5") and str(from_stripe_minor(500, "ISK")) == "5"
    assert str(from_stripe_minor(123400, "HUF")) == "1234.00"
    assert to_stripe_minor(D("5"), "MGA") == 5 and to_stripe_minor(D("5.00"), "MGA") == 5
    assert to_stripe_minor(D("1234"), "HUF") == 123400 and to_stripe_minor(D("1234.00"), "huf") == 123400


def test_mga_differs_from_iso_4217():
    # ISO 4217 gives MGA two decimals; Stripe charges it in whole ariary
    assert to_minor(D("5"), "MGA") == 500 and from_minor(500, "MGA") == D("5.00")
    assert to_stripe_minor(D("5"), "MGA") == 5


@pytest.mark.parametrize("amount, currency, message", [
    (D("5.50"), "MGA", "Stripe cannot charge 5.50 MGA: it charges MGA in whole MGA"),
    (D("0.5"), "JPY", "Stripe cannot charge 0.5 JPY: it charges JPY in whole JPY"),
    (D("10.50"), "HUF", "Stripe cannot charge 10.50 HUF: it charges HUF in whole HUF"),
    (D("5.5"), "ISK", "Stripe cannot charge 5.5 ISK: it charges ISK in whole ISK"),
    (D("0.01"), "TWD", "Stripe cannot charge 0.01 TWD: it charges TWD in whole TWD"),
    (D("1.5"), "UGX", "Stripe cannot charge 1.5 UGX: it charges UGX in whole UGX"),
    (D("1.235"), "KWD", "Stripe cannot charge 1.235 KWD: it charges KWD in steps of 0.01 KWD"),
    (D("0.001"), "BHD", "Stripe cannot charge 0.001 BHD: it charges BHD in steps of 0.01 BHD"),
    (D("0.001"), "USD", "Stripe cannot charge 0.001 USD: it charges USD in steps of 0.01 USD"),
    (D("NaN"), "USD", "Stripe cannot charge NaN USD: it charges USD in steps of 0.01 USD"),
    (D("Infinity"), "JPY", "Stripe cannot charge Infinity JPY: it charges JPY in whole JPY"),
])
def test_an_amount_stripe_cannot_charge_is_refused_with_a_one_line_message(amount, currency, message):
    with pytest.raises(CurrencyError) as error:
        to_stripe_minor(amount, currency)
    assert str(error.value) == message


@pytest.mark.parametrize("minor, currency", [(550, "ISK"), (5, "UGX"), (1, "ISK")])
def test_reading_from_stripe_refuses_what_the_iso_scale_cannot_hold(minor, currency):
    with pytest.raises(CurrencyError):
        from_stripe_minor(minor, currency)


def test_reading_from_stripe_is_lenient_within_the_iso_scale():
    # 10.50 HUF and 1.235 KWD are ISO amounts Stripe will not charge; read back, they are kept as they are
    assert str(from_stripe_minor(1050, "HUF")) == "10.50"
    assert str(from_stripe_minor(1235, "KWD")) == "1.235"


def test_types_are_refused():
    with pytest.raises(TypeError):
        to_stripe_minor(5, "JPY")
    with pytest.raises(TypeError):
        to_stripe_minor(5.0, "USD")
    with pytest.raises(TypeError):
        from_stripe_minor(True, "USD")
    with pytest.raises(TypeError):
        from_stripe_minor(D("5"), "USD")
    with pytest.raises(CurrencyError):
        to_stripe_minor(D("5"), "JP")


@pytest.mark.parametrize("currency, quantum", [
    *[(code, "1") for code in ZERO_DECIMAL + SENT_AS_TWO_DECIMALS],
    *[(code, "0.01") for code in THREE_DECIMAL],
    ("USD", "0.01"), ("EUR", "0.01"), ("jpy", "1"),
])
def test_stripe_quantum_is_the_smallest_chargeable_amount(currency, quantum):
    assert stripe_quantum(currency) == D(quantum)
    assert to_stripe_minor(stripe_quantum(currency), currency) in (1, 10, 100)


# --- parse_amount ---------------------------------------------------------------------------------------

PLAIN = "Enter the amount in plain decimal notation, like {}: digits and at most one decimal point, no exponent, " \
        "thousands separator or plus sign."


@pytest.mark.parametrize("text, currency, expected", [
    ("12.50", "USD", "12.50"),
    ("12.5", "USD", "12.50"),
    ("5", "USD", "5.00"),
    (" 5 ", "USD", "5.00"),
    (".5", "USD", "0.50"),
    ("5.", "USD", "5.00"),
    ("1.500", "USD", "1.50"),  # trailing zeros are not finer than a cent
    ("007", "USD", "7.00"),
    ("999999999999.99", "USD", "999999999999.99"),
    ("255", "JPY", "255"),
    ("255.0", "JPY", "255"),
    ("1.235", "KWD", "1.235"),
    ("5", "MGA", "5.00"),
    ("0", "USD", "0.00"),
])
def test_plain_amounts_are_read_at_the_currency_scale(text, currency, expected):
    assert str(parse_amount(text, currency)) == expected


@pytest.mark.parametrize("text, currency, code, message", [
    ("1e1", "USD", "invalid", PLAIN.format("12.50")),
    ("1E-2", "USD", "invalid", PLAIN.format("12.50")),
    ("NaN", "USD", "invalid", PLAIN.format("12.50")),
    ("Infinity", "USD", "invalid", PLAIN.format("12.50")),
    ("-Infinity", "USD", "invalid", PLAIN.format("12.50")),
    ("+5", "USD", "invalid", PLAIN.format("12.50")),
    ("1,000", "USD", "invalid", PLAIN.format("12.50")),
    ("1 000", "USD", "invalid", PLAIN.format("12.50")),
    ("1_000", "USD", "invalid", PLAIN.format("12.50")),
    ("1.2.3", "USD", "invalid", PLAIN.format("12.50")),
    ("abc", "USD", "invalid", PLAIN.format("12.50")),
    ("", "USD", "invalid", PLAIN.format("12.50")),
    (".", "USD", "invalid", PLAIN.format("12.50")),
    ("\u0661\u0662", "USD", "invalid", PLAIN.format("12.50")),  # Arabic-Indic digits
    ("abc", "JPY", "invalid", PLAIN.format("1250")),
    ("abc", "KWD", "invalid", PLAIN.format("12.500")),
    ("-5", "USD", "negative", "Enter an amount that is not negative."),
    ("1234567890123", "USD", "too_large", "Enter at most 12 digits before the decimal point."),
    ("0.001", "USD", "decimals", "Enter at most 2 decimal places for USD."),
    ("1.0001", "KWD", "decimals", "Enter at most 3 decimal places for KWD."),
    ("1.5", "JPY", "whole", "Enter an amount in whole yen (JPY has no decimals)."),
    ("1.5", "CLP", "whole", "Enter an amount in whole CLP (CLP has no decimals)."),
])
def test_anything_else_is_refused_with_a_clear_message(text, currency, code, message):
    with pytest.raises(AmountError) as error:
        parse_amount(text, currency)
    assert (error.value.code, str(error.value)) == (code, message)
    assert isinstance(error.value, CurrencyError)


def test_negatives_only_where_asked_and_minus_zero_is_zero():
    assert parse_amount("-5", "USD", allow_negative=True) == D("-5.00")
    assert str(parse_amount("-0", "USD", allow_negative=True)) == "0.00"


def test_stripe_true_also_refuses_what_stripe_cannot_charge():
    assert parse_amount("10.50", "HUF") == D("10.50")  # a valid HUF amount ...
    with pytest.raises(AmountError) as error:
        parse_amount("10.50", "HUF", stripe=True)  # ... that Stripe cannot charge or refund
    assert (error.value.code, str(error.value)) == (
        "stripe", "Stripe charges HUF in steps of 1 HUF: 10.50 HUF cannot be charged.")
    assert parse_amount("1.23", "KWD", stripe=True) == D("1.230")
    with pytest.raises(AmountError):
        parse_amount("1.235", "KWD", stripe=True)


def test_without_a_currency_only_the_notation_and_size_are_checked():
    assert parse_amount("1.2345", None) == D("1.2345")
    with pytest.raises(AmountError):
        parse_amount("1e1", None)
