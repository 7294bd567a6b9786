"""A bar chart of donations per day as inline SVG, drawn on the server (no script, no CDN)."""

import datetime as dt
from decimal import Decimal

from django.utils.html import escape

WIDTH, HEIGHT, PAD = 720, 200, 30


def donations_svg(points, *, currency, title):
    """``points``: ``[(date, Decimal), ...]`` in date order (days without donations included, as 0)."""
    top = max((amount for _, amount in points), default=Decimal(0)) or Decimal(1)
    n = max(len(points), 1)
    slot = (WIDTH - 2 * PAD) / n
    bars = []
    for i, (day, amount) in enumerate(points):
        h = float(amount / top) * (HEIGHT - 2 * PAD)
        x = PAD + i * slot
        y = HEIGHT - PAD - h
        bars.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(slot - 2, 1):.1f}" height="{h:.1f}" fill="#7b2d8e">'
            f"<title>{escape(day.isoformat())}: {escape(str(amount))} {escape(currency)}</title></rect>"
        )
    labels = []
    if points:
        first, last = points[0][0], points[-1][0]
        labels.append(f'<text x="{PAD}" y="{HEIGHT - 8}" font-size="11">{escape(first.isoformat())}</text>')
        labels.append(
            f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" font-size="11" text-anchor="end">'
            f"{escape(last.isoformat())}</text>"
        )
    labels.append(f'<text x="{PAD}" y="{PAD - 10}" font-size="11">{escape(str(top))} {escape(currency)}</text>')
    axis = f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#666"/>'
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" class="p6-chart" style="max-width:100%">'
        f"<title>{escape(title)}</title>{axis}{''.join(bars)}{''.join(labels)}</svg>"
    )


def fill_days(rows, *, start, end):
    """``{date: amount}`` to a dense list from ``start`` to ``end`` (dates, both included)."""
    out, day = [], start
    while day <= end:
        out.append((day, rows.get(day, Decimal(0))))
        day += dt.timedelta(days=1)
    return out
