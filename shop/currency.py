"""Currencies and their minor units (ISO 4217), free of Django so every layer can use it.

Amounts are Decimals in major units everywhere except inside the Stripe boundary, which speaks in
integer minor units; these two conversions are the only place the exponent is applied.
"""

from decimal import ROUND_HALF_UP, Decimal

# ISO 4217 minor-unit exponents that differ from 2 (everything not listed has 2).
_EXPONENTS = {
    # no minor unit
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    # three decimals
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    # four decimals
    "CLF": 4, "UYW": 4,
}


class CurrencyError(ValueError):
    """A currency code that is not three ASCII letters, or an amount finer than its minor unit."""


def normalise(currency: str) -> str:
    code = (currency or "").strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise CurrencyError(f"not an ISO 4217 currency code: {currency!r}")
    return code


def exponent(currency: str) -> int:
    """Number of decimals of the currency's minor unit (USD 2, JPY 0, KWD 3)."""
    return _EXPONENTS.get(normalise(currency), 2)


def quantum(currency: str) -> Decimal:
    """The currency's minor unit as a Decimal: Decimal('0.01') for USD, Decimal('1') for JPY."""
    return Decimal(1).scaleb(-exponent(currency))


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round half-up to the currency's minor unit."""
    return Decimal(amount).quantize(quantum(currency), rounding=ROUND_HALF_UP)


def to_minor(amount: Decimal, currency: str) -> int:
    """Major units to integer minor units; refuses an amount finer than the minor unit."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"amount must be a Decimal, not {type(amount).__name__}")
    scaled = amount.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise CurrencyError(f"{amount} {normalise(currency)} is finer than the currency's minor unit")
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    """Integer minor units to a Decimal in major units, at the currency's exact scale."""
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise TypeError(f"minor units must be an int, not {type(minor).__name__}")
    return Decimal(minor).scaleb(-exponent(currency)).quantize(quantum(currency))
