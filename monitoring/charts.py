"""Inline SVG charts for the self-contained report: no script, no CDN, readable offline and in e-mail."""

from __future__ import annotations

import html

WIDTH, HEIGHT, PAD = 560, 180, 36


def _frame(title: str, body: str, top: float, unit: str) -> str:
    label = f"{top:,.0f}{unit}" if top >= 10 else f"{top:,.2f}{unit}"
    return (
        f'<figure class="chart"><figcaption>{html.escape(title)}</figcaption>'
        f'<svg role="img" aria-label="{html.escape(title)}" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">'
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - 8}" y2="{HEIGHT - PAD}" stroke="#999"/>'
        f'<line x1="{PAD}" y1="8" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#999"/>'
        f'<text x="{PAD + 4}" y="14" font-size="10">{html.escape(label)}</text>'
        f'<text x="{PAD - 10}" y="{HEIGHT - PAD}" font-size="10">0</text>{body}</svg></figure>'
    )


def _empty(title: str) -> str:
    return f'<figure class="chart"><figcaption>{html.escape(title)}</figcaption><p>no data yet</p></figure>'


def _x_labels(labels: list[str], xs: list[float]) -> str:
    step = max(1, -(-len(labels) // 5))
    return "".join(
        f'<text x="{x:.1f}" y="{HEIGHT - PAD + 14}" font-size="9" text-anchor="middle">'
        f"{html.escape(lab)}</text>"
        for i, (lab, x) in enumerate(zip(labels, xs, strict=True))
        if i % step == 0
    )


def line(title: str, points: list[tuple[str, float]], unit: str = "", color: str = "#1f6feb") -> str:
    """A line over (label, value) points, labels on the x axis (a few of them)."""
    if not points:
        return _empty(title)
    top = max(v for _, v in points) or 1.0
    span = WIDTH - PAD - 40
    xs = [PAD + 8 + (span * i / max(1, len(points) - 1)) for i in range(len(points))]
    ys = [HEIGHT - PAD - (HEIGHT - PAD - 12) * v / top for _, v in points]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}">'
        f"<title>{html.escape(lab)}: {v:,.2f}</title></circle>"
        for (lab, v), x, y in zip(points, xs, ys, strict=True)
    )
    body = f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}"/>{dots}'
    return _frame(title, body + _x_labels([lab for lab, _ in points], xs), top, unit)


def bars(title: str, points: list[tuple[str, float]], unit: str = "", color: str = "#8250df") -> str:
    """Vertical bars over (label, value) points."""
    if not points:
        return _empty(title)
    top = max(v for _, v in points) or 1.0
    slot = (WIDTH - PAD - 24) / len(points)
    width = max(2.0, slot * 0.7)
    rects, xs = [], []
    for i, (lab, v) in enumerate(points):
        x = PAD + 8 + slot * i
        h = (HEIGHT - PAD - 12) * v / top
        rects.append(
            f'<rect x="{x:.1f}" y="{HEIGHT - PAD - h:.1f}" width="{width:.1f}" height="{h:.1f}"'
            f' fill="{color}">'
            f"<title>{html.escape(lab)}: {v:,.2f}</title></rect>"
        )
        xs.append(x + width / 2)
    return _frame(title, "".join(rects) + _x_labels([lab for lab, _ in points], xs), top, unit)
