"""Currencies and amounts: ISO 4217 minor units, Stripe's minor units, amounts typed by people, and the two
values that carry a currency (``Money``, ``Fee``). Free of Django: the pure arithmetic and every layer above
fundraising (shop) use it.

Amounts are Decimals in major units everywhere except inside the Stripe boundary, which speaks in
integer minor units by Stripe's own rules (to_stripe_minor / from_stripe_minor, not to_minor / from_minor:
Stripe's table differs from ISO 4217 for MGA, ISK, HUF, TWD, UGX and the three-decimal currencies).
Amounts typed by people or sent by API clients are read by parse_amount, one rule for every form.
"""

import re
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Money:
    """An amount and its currency, travelling together (never as a loose pair)."""

    amount: Decimal
    currency: str


@dataclass(frozen=True)
class Fee:
    """The payment fee of a sale in the order's currency: Stripe's (from the charge's balance transaction,
    ``estimated=False``) or none reported (``amount=None``, ``estimated=True``: the ledger estimates it from
    the configured fee schedule)."""

    amount: Decimal | None
    estimated: bool


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


# --- Stripe's minor units (https://docs.stripe.com/currencies) ----------------------------------------------
# Stripe's table differs from ISO 4217, so the Stripe boundary converts with these and never with to_minor.

#: Charged in whole units and sent without decimals (MGA has 2 decimals in ISO 4217 but none at Stripe).
_STRIPE_ZERO_DECIMAL = frozenset({
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "VND", "VUV", "XAF", "XOF", "XPF",
})
#: Charged in whole units but sent as two-decimal amounts, which must therefore end in 00 (5 ISK -> 500).
_STRIPE_WHOLE_SENT_AS_TWO_DECIMALS = frozenset({"HUF", "ISK", "TWD", "UGX"})
#: Sent with three decimals; the last one must be 0, so Stripe charges them in hundredths (1.230 KWD -> 1230).
_STRIPE_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


def _stripe_exponent(code: str) -> int:
    if code in _STRIPE_ZERO_DECIMAL:
        return 0
    if code in _STRIPE_THREE_DECIMAL:
        return 3
    return 2


def stripe_quantum(currency: str) -> Decimal:
    """The smallest amount Stripe can charge in the currency, in major units.

    Decimal('1') for the zero-decimal currencies and for HUF, ISK, TWD and UGX, Decimal('0.01') for the
    three-decimal currencies and for every other currency. Always a whole number of the ISO minor unit.
    """
    code = normalise(currency)
    if code in _STRIPE_ZERO_DECIMAL or code in _STRIPE_WHOLE_SENT_AS_TWO_DECIMALS:
        return Decimal(1)
    return Decimal("0.01")


def _whole_multiple(amount: Decimal, step: Decimal) -> bool:
    # scaleb rather than %: Decimal's remainder fails once the quotient outgrows the context's precision.
    scaled = amount.scaleb(-step.as_tuple().exponent)
    return scaled == scaled.to_integral_value()


def _stripe_unit(code: str) -> str:
    step = stripe_quantum(code)
    return f"whole {code}" if step == 1 else f"steps of {step} {code}"


def to_stripe_minor(amount: Decimal, currency: str) -> int:
    """Major units to the integer ``amount`` Stripe expects, by Stripe's rules rather than ISO 4217's.

    5 JPY -> 5, 5 MGA -> 5, 12.34 USD -> 1234, 5 ISK -> 500, 1234 HUF -> 123400, 1.230 KWD -> 1230.
    Raises CurrencyError for an amount Stripe cannot charge (5.50 MGA, 10.50 HUF, 1.235 KWD), and
    TypeError for anything but a Decimal.
    """
    if not isinstance(amount, Decimal):
        raise TypeError(f"amount must be a Decimal, not {type(amount).__name__}")
    code = normalise(currency)
    if not amount.is_finite() or not _whole_multiple(amount, stripe_quantum(code)):
        raise CurrencyError(f"Stripe cannot charge {amount} {code}: it charges {code} in {_stripe_unit(code)}")
    return int(amount.scaleb(_stripe_exponent(code)))


def from_stripe_minor(minor: int, currency: str) -> Decimal:
    """Stripe's integer ``amount`` to a Decimal in major units, at the currency's ISO 4217 scale.

    500 ISK -> Decimal('5'), 123400 HUF -> Decimal('1234.00'), 5 MGA -> Decimal('5.00'),
    1230 KWD -> Decimal('1.230'). Raises CurrencyError when the amount is finer than the ISO minor unit
    (550 ISK would be 5.50 ISK), TypeError for anything but an int.
    """
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise TypeError(f"minor units must be an int, not {type(minor).__name__}")
    code = normalise(currency)
    amount = Decimal(minor).scaleb(-_stripe_exponent(code))
    if not _whole_multiple(amount, quantum(code)):
        raise CurrencyError(f"Stripe amount {minor} {code} is finer than the ISO minor unit of {code}")
    return amount.quantize(quantum(code))


# --- Amounts typed by people ----------------------------------------------------------------------------------

#: More digits than this before the decimal point is a typo, not an amount (and overflows the money columns).
MAX_INTEGER_DIGITS = 12

# ASCII digits only ([0-9], not \d, which takes any script's digits), at most one point, an optional leading
# minus; no exponent, no plus sign, no thousands separator, no NaN or Infinity.
_PLAIN_DECIMAL = re.compile(r"(-?)([0-9]*)(?:\.([0-9]*))?")

#: Names of a whole unit for the message "Enter an amount in whole yen (JPY has no decimals)."; others use the code.
_UNIT_NAMES = {"JPY": "yen", "KRW": "won"}


class AmountError(CurrencyError):
    """Text that is not an acceptable amount of a currency.

    ``code`` (invalid, negative, too_large, whole, decimals, stripe) and ``params`` let a form word the
    message in the user's language; ``str()`` is the English sentence.
    """

    def __init__(self, message: str, *, code: str, params: dict):
        super().__init__(message)
        self.code = code
        self.params = params


def amount_example(currency: str | None) -> str:
    """A sample amount written the way parse_amount wants it: 12.50 USD, 1250 JPY, 12.500 KWD."""
    places = 2 if currency is None else exponent(currency)
    return "1250" if places == 0 else format(Decimal("12.5").quantize(Decimal(1).scaleb(-places)), "f")


def parse_amount(text, currency: str | None, *, allow_negative: bool = False, stripe: bool = False) -> Decimal:
    """An amount typed by staff or sent by an API client, as a Decimal at the currency's ISO scale.

    Accepts plain decimal notation only ("12.50", "12", ".5", with a leading "-" when ``allow_negative``)
    and refuses, with an AmountError: exponent notation ("1e1"), NaN and Infinity, a plus sign, thousands
    separators, more than MAX_INTEGER_DIGITS digits before the point, and an amount finer than the
    currency's minor unit ("0.001" USD, "1.5" JPY; trailing zeros are not finer: "1.500" USD is 1.50).
    ``stripe=True`` also refuses what Stripe cannot charge in the currency (10.50 HUF, 1.235 KWD).
    ``currency=None`` (not known yet) checks the notation and the size only and returns the number as typed.
    """
    if isinstance(text, Decimal) and text.is_finite():
        text = format(text, "f")
    elif isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    if not isinstance(text, str):
        raise TypeError(f"an amount to parse must be text, not {type(text).__name__}")
    code = None if currency is None else normalise(currency)
    example = amount_example(code)
    stripped = text.strip()
    match = _PLAIN_DECIMAL.fullmatch(stripped)
    if match is None or not (match.group(2) or match.group(3)):
        raise AmountError(
            f"Enter the amount in plain decimal notation, like {example}: digits and at most one decimal point, "
            f"no exponent, thousands separator or plus sign.",
            code="invalid", params={"example": example},
        )
    sign, whole, fraction = match.group(1), match.group(2).lstrip("0"), (match.group(3) or "").rstrip("0")
    if sign and not allow_negative:
        raise AmountError("Enter an amount that is not negative.", code="negative", params={})
    if len(whole) > MAX_INTEGER_DIGITS:
        raise AmountError(
            f"Enter at most {MAX_INTEGER_DIGITS} digits before the decimal point.",
            code="too_large", params={"digits": MAX_INTEGER_DIGITS},
        )
    if code is None:
        return Decimal(stripped)
    places = exponent(code)
    if len(fraction) > places:
        if places == 0:
            unit = _UNIT_NAMES.get(code, code)
            raise AmountError(
                f"Enter an amount in whole {unit} ({code} has no decimals).",
                code="whole", params={"unit": unit, "currency": code},
            )
        raise AmountError(
            f"Enter at most {places} decimal places for {code}.",
            code="decimals", params={"places": places, "currency": code},
        )
    amount = Decimal(f"{sign}{whole or '0'}.{fraction or '0'}").quantize(quantum(code))
    if amount == 0:
        amount = abs(amount)  # "-0" is zero, not a negative zero that prints as "-0.00"
    if stripe and not _whole_multiple(amount, stripe_quantum(code)):
        step = stripe_quantum(code)
        raise AmountError(
            f"Stripe charges {code} in steps of {step} {code}: {amount} {code} cannot be charged.",
            code="stripe", params={"currency": code, "step": step, "amount": amount},
        )
    return amount
