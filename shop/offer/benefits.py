"""Oscar's benefits with every discount a whole number of what the fan can pay (DESIGN, "Money rules").

Oscar computes a percentage discount per line without rounding it (10 % of 255 JPY is 25.5 JPY) and rounds
only the offer's reported total, down, to two places whatever the currency; the other benefits use their
money value as staff typed it (10.5 JPY off, a bundle for 150.5 JPY). A fractional discount makes basket,
line and order totals no card payment can match: Stripe cannot charge 229.5 JPY, and the pay page answered 500.

Here each discount is rounded where Oscar computes it, half-up, to ``payable_quantum`` of the basket's
currency (the smallest amount Stripe can charge, always a whole number of the ISO minor unit): 10 % off
255 JPY is 26 JPY off, so the fan pays 229 JPY; a percentage or per-unit discount is rounded per line, and
the offer's total is the sum of the rounded lines, so the discount recorded on the order is the one applied.
With prices in whole payable units (the only prices Stripe can charge), every line, basket, shipping and
order total is then payable.
Shares of an absolute or bundle discount spread over several lines are rounded *down* by ``round_share``
(OSCAR_OFFER_ROUNDING_FUNCTION, Oscar's hook for Benefit.round) with the last line taking the remainder, as
Oscar does, so the shares add up to the discount exactly and none is negative.

Oscar's proxy classes keep their names in the offer app (oscar.apps.offer.models registers them), so ours
are new proxy models (migration 0014, no table) bound here to Oscar's names, which is where
Benefit.proxy_map looks them up (get_class("offer.benefits", ...) prefers a forked app's module).
"""

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from django.conf import settings
from oscar.apps.offer import benefits as oscar
from oscar.apps.offer.results import ZERO_DISCOUNT, BasketDiscount

from fundraising.money import stripe_quantum

__all__ = [
    "PercentageDiscountBenefit",
    "AbsoluteDiscountBenefit",
    "FixedUnitDiscountBenefit",
    "FixedPriceBenefit",
    "ShippingAbsoluteDiscountBenefit",
    "ShippingFixedPriceBenefit",
    "ShippingPercentageDiscountBenefit",
]


def payable_quantum(currency):
    """The unit every discount and total is a whole number of: what Stripe can charge in ``currency``."""
    return stripe_quantum(currency or settings.OSCAR_DEFAULT_CURRENCY)


def payable_round(amount, currency, rounding=ROUND_HALF_UP):
    """``amount`` rounded (half-up unless told) to the payable unit of ``currency``."""
    return Decimal(amount).quantize(payable_quantum(currency), rounding=rounding)


def round_share(amount, currency=None):
    """OSCAR_OFFER_ROUNDING_FUNCTION: Benefit.round, down to the payable unit (Oscar: down to 0.01)."""
    return payable_round(amount, currency, ROUND_DOWN)


def _meta(parent):
    return type("Meta", (), {
        "app_label": "offer", "proxy": True, "verbose_name": parent._meta.verbose_name,
        "verbose_name_plural": parent._meta.verbose_name_plural,
    })


class PayablePercentageDiscountBenefit(oscar.PercentageDiscountBenefit):
    Meta = _meta(oscar.PercentageDiscountBenefit)

    def apply(self, basket, condition, offer, discount_percent=None, max_total_discount=None, **kwargs):
        # Oscar's PercentageDiscountBenefit.apply, with each line's discount rounded before it is applied
        # and the offer's discount the sum of what was applied.
        currency = basket.currency
        if discount_percent is None:
            discount_percent = self.value

        discount_amount_available = (
            None if max_total_discount is None else payable_round(max_total_discount, currency, ROUND_DOWN)
        )

        line_tuples = self.get_applicable_lines(offer, basket)
        discount_percent = min(discount_percent, Decimal("100.0"))
        discount = Decimal("0.00")
        affected_items = 0
        max_affected_items = self._effective_max_affected_items()
        for price, line in line_tuples:
            affected_items += line.quantity_with_offer_discount(offer)
            if affected_items >= max_affected_items:
                break
            if discount_amount_available == 0:
                break

            quantity_affected = min(
                line.quantity_without_offer_discount(offer),
                max_affected_items - affected_items,
            )
            if quantity_affected <= 0:
                break

            line_discount = payable_round(discount_percent / Decimal("100.0") * price * int(quantity_affected),
                                          currency)

            if discount_amount_available is not None:
                line_discount = min(line_discount, discount_amount_available)
                discount_amount_available -= line_discount

            oscar.apply_discount(line, line_discount, quantity_affected, offer)

            affected_items += quantity_affected
            discount += line_discount

        return BasketDiscount(discount)


class PayableAbsoluteDiscountBenefit(oscar.AbsoluteDiscountBenefit):
    Meta = _meta(oscar.AbsoluteDiscountBenefit)

    def apply(self, basket, condition, offer, discount_amount=None, max_total_discount=None, **kwargs):
        # Oscar's discount is min(value, the lines' total, max_total_discount): rounding the value half-up
        # (and the cap down) rounds it. Oscar spreads it over the lines with Benefit.round (round_share) and
        # gives the last line the remainder, so every share is payable too.
        currency = basket.currency
        discount_amount = payable_round(self.value if discount_amount is None else discount_amount, currency)
        if max_total_discount is not None:
            max_total_discount = payable_round(max_total_discount, currency, ROUND_DOWN)
        return super().apply(basket, condition, offer, discount_amount=discount_amount,
                             max_total_discount=max_total_discount, **kwargs)


class PayableFixedUnitDiscountBenefit(oscar.FixedUnitDiscountBenefit):
    Meta = _meta(oscar.FixedUnitDiscountBenefit)

    def apply(self, basket, condition, offer, discount_amount=None, max_total_discount=None, **kwargs):
        # Oscar's FixedUnitDiscountBenefit.apply, with each line's discount rounded.
        line_tuples = self.get_applicable_lines(offer, basket)
        lines_to_discount = self.get_lines_to_discount(offer, line_tuples)

        applied_discount = Decimal("0.00")
        for line, price, qty in lines_to_discount:
            line_discount = payable_round(min(price * qty, self.value * qty), basket.currency)
            oscar.apply_discount(line, line_discount, qty, offer)
            applied_discount += line_discount

        return BasketDiscount(applied_discount)


class PayableFixedPriceBenefit(oscar.FixedPriceBenefit):
    Meta = _meta(oscar.FixedPriceBenefit)

    def apply(self, basket, condition, offer, **kwargs):
        # Oscar's FixedPriceBenefit.apply, with the discount rounded before it is spread over the lines.
        if isinstance(condition, oscar.ValueCondition):
            return ZERO_DISCOUNT

        line_tuples = self.get_applicable_lines(offer, basket, range=condition.range)
        if not line_tuples:
            return ZERO_DISCOUNT

        num_permitted = int(condition.value)
        num_affected = 0
        value_affected = Decimal("0.00")
        covered_lines = []
        for price, line in line_tuples:
            if isinstance(condition, oscar.CoverageCondition):
                quantity_affected = 1
            else:
                quantity_affected = min(
                    line.quantity_without_offer_discount(offer),
                    num_permitted - num_affected,
                )
            num_affected += quantity_affected
            value_affected += quantity_affected * price
            covered_lines.append((price, line, quantity_affected))
            if num_affected >= num_permitted:
                break
        discount = payable_round(max(value_affected - self.value, Decimal("0.00")), basket.currency)
        if not discount:
            return ZERO_DISCOUNT

        discount_applied = Decimal("0.00")
        last_line = covered_lines[-1][1]
        for price, line, quantity in covered_lines:
            if line == last_line:
                line_discount = discount - discount_applied
            else:
                line_discount = self.round(discount * (price * quantity) / value_affected, basket.currency)
            oscar.apply_discount(line, line_discount, quantity, offer)
            discount_applied += line_discount
        return BasketDiscount(discount)


class PayableShippingAbsoluteDiscountBenefit(oscar.ShippingAbsoluteDiscountBenefit):
    Meta = _meta(oscar.ShippingAbsoluteDiscountBenefit)

    def shipping_discount(self, charge, currency=None):
        return payable_round(min(charge, self.value), currency)


class PayableShippingFixedPriceBenefit(oscar.ShippingFixedPriceBenefit):
    Meta = _meta(oscar.ShippingFixedPriceBenefit)

    def shipping_discount(self, charge, currency=None):
        if charge < self.value:
            return Decimal("0.00")
        return payable_round(charge - self.value, currency)


class PayableShippingPercentageDiscountBenefit(oscar.ShippingPercentageDiscountBenefit):
    Meta = _meta(oscar.ShippingPercentageDiscountBenefit)

    def shipping_discount(self, charge, currency=None):
        # Oscar: quantize(Decimal("0.01")) with the context's half-even rounding, whatever the currency.
        return payable_round(charge * self.value / Decimal("100.0"), currency)


# The names Benefit.proxy_map asks get_class for.
PercentageDiscountBenefit = PayablePercentageDiscountBenefit
AbsoluteDiscountBenefit = PayableAbsoluteDiscountBenefit
FixedUnitDiscountBenefit = PayableFixedUnitDiscountBenefit
FixedPriceBenefit = PayableFixedPriceBenefit
ShippingAbsoluteDiscountBenefit = PayableShippingAbsoluteDiscountBenefit
ShippingFixedPriceBenefit = PayableShippingFixedPriceBenefit
ShippingPercentageDiscountBenefit = PayableShippingPercentageDiscountBenefit
