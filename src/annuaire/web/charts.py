"""Inline SVG charts: accessible (role="img", a title, the figures also given as text nearby),
no script needed."""

from __future__ import annotations

import zlib

from markupsafe import Markup, escape

from .text import number


def bar_chart(title: str, items: list[tuple[str, int]], *, width: int = 640, bar: int = 22) -> Markup:
    """Horizontal bars, one per (label, value), labels above their bars, values at the bar's end."""
    if not items:
        return Markup("")
    top = max(v for _, v in items) or 1
    row = bar + 22
    height = row * len(items) + 4
    ident = f"chart-{zlib.crc32(title.encode()):x}"
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="{ident}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{ident}">{escape(title)}</title>',
    ]
    usable = width - 90
    for i, (label, value) in enumerate(items):
        y = i * row
        w = max(2, round(usable * value / top))
        parts.append(f'<text x="0" y="{y + 14}" class="chart-label">{escape(label)}</text>')
        parts.append(f'<rect x="0" y="{y + 18}" width="{w}" height="{bar}" rx="3" class="chart-bar"/>')
        parts.append(
            f'<text x="{w + 6}" y="{y + 18 + bar - 6}" class="chart-value">{escape(number(value))}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
