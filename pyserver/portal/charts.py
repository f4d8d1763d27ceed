"""Small SVG charts for the monitoring view: bars over time, drawn on the server (no library, no
script), each with a title and a description for screen readers, and the numbers in a table
beside it for whoever prefers to read them."""

from __future__ import annotations

from datetime import datetime
from html import escape

WIDTH, HEIGHT = 560, 160
LEFT, BOTTOM, TOP = 36, 22, 10


def _nice_top(value: int) -> int:
    """A round upper bound for the axis: 1, 2, 5, 10, 20, 50, ..."""
    top = 1
    while top < value:
        for step in (2, 5, 10):
            if top * step // (10 if step == 10 else 1) >= value and step != 10:
                return top * step
        top *= 10
    return top


def bar_chart(title: str, times: list[datetime], values: list[int], css_class: str = "bars") -> str:
    """An SVG bar chart of values per time bucket, the last at the right."""
    peak = _nice_top(max(values, default=0) or 1)
    count = max(len(values), 1)
    plot_width = WIDTH - LEFT - 8
    bar = plot_width / count
    plot_height = HEIGHT - BOTTOM - TOP
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'class="chart {css_class}" role="img" aria-label="{escape(title)}: '
             f'{sum(values)} in all, at most {max(values, default=0)} per step">',
             f'<title>{escape(title)}</title>',
             f'<line x1="{LEFT}" y1="{TOP + plot_height}" x2="{WIDTH - 8}" y2="{TOP + plot_height}" class="axis"/>',
             f'<text x="{LEFT - 4}" y="{TOP + 8}" text-anchor="end" class="tick">{peak}</text>',
             f'<text x="{LEFT - 4}" y="{TOP + plot_height}" text-anchor="end" class="tick">0</text>']
    for n, (when, value) in enumerate(zip(times, values)):
        height = plot_height * value / peak
        x = LEFT + n * bar
        parts.append(f'<rect x="{x + 1:.1f}" y="{TOP + plot_height - height:.1f}" '
                     f'width="{max(bar - 2, 1):.1f}" height="{height:.1f}">'
                     f'<title>{when:%Y-%m-%d %H:%M}: {value}</title></rect>')
    for n in (0, count // 2, count - 1):
        if 0 <= n < len(times):
            parts.append(f'<text x="{LEFT + n * bar + bar / 2:.1f}" y="{HEIGHT - 6}" '
                         f'text-anchor="middle" class="tick">{times[n]:%d %b %H:%M}</text>')
    parts.append("</svg>")
    return "".join(parts)
