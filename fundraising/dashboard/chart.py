"""A bar chart of donations per day as inline SVG, drawn on the server (no script, no CDN).

One bar per day (days without donations stay, as an empty slot), a vertical axis with three values (0,
half the highest day, the highest day) in the staff money format, and dates under the horizontal axis
(the last day and every seventh day before it)."""

import datetime as dt
from decimal import Decimal

from django.utils.html import escape

from fundraising.templatetags.fundraising_tags import money

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 70, 10, 15, 40


def donations_svg(points, *, currency, title):
    """``points``: ``[(date, Decimal), ...]`` in date order (days without donations included, as 0)."""
    top = max((amount for _, amount in points), default=Decimal(0)) or Decimal(1)
    n = max(len(points), 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / n
    base = TOP + plot_h
    bars = []
    for i, (day, amount) in enumerate(points):
        h = float(amount / top) * plot_h
        x = LEFT + i * slot
        bars.append(
            f'<rect class="p6-bar" data-day="{escape(day.isoformat())}" x="{x:.1f}" y="{base - h:.1f}" '
            f'width="{max(slot - 1, 1):.1f}" height="{h:.1f}" fill="#7b2d8e">'
            f"<title>{escape(day.isoformat())}: {escape(money(amount, currency))}</title></rect>"
        )
    ticks = []
    for value in (Decimal(0), top / 2, top):
        y = base - float(value / top) * plot_h
        ticks.append(
            f'<line x1="{LEFT - 4}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text class="p6-y" x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
            f"{escape(money(value, currency))}</text>"
        )
    labels = []
    for i, (day, _) in enumerate(points):
        if (len(points) - 1 - i) % 7 == 0:  # the last day and every seventh day before it
            x = LEFT + i * slot + slot / 2
            labels.append(
                f'<text class="p6-x" x="{x:.1f}" y="{base + 16}" font-size="11" text-anchor="middle">'
                f"{escape(day.isoformat())}</text>"
            )
    axes = (
        f'<line x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" stroke="#666"/>'
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base}" stroke="#666"/>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" class="p6-chart" style="max-width:100%">'
        f"<title>{escape(title)}</title>{''.join(ticks)}{axes}{''.join(bars)}{''.join(labels)}</svg>"
    )


def fill_days(rows, *, start, end):
    """``{date: amount}`` to a dense list from ``start`` to ``end`` (dates, both included)."""
    out, day = [], start
    while day <= end:
        out.append((day, rows.get(day, Decimal(0))))
        day += dt.timedelta(days=1)
    return out
