"""Small inline SVG charts for the class report: no image files, no script, no network.

Every function returns an ``<svg>`` element as a string (its text escaped), sized in CSS
pixels; ``<title>`` children give exact values on hover.
"""
from __future__ import annotations

from html import escape
from typing import Sequence

BLUE, GREEN, RED, GREY = "#4c72b0", "#55a868", "#c44e52", "#8c8c8c"


def _fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def _svg_open(width: int, height: int, label: str) -> str:
    """The opening ``<svg>`` tag of a chart of ``width`` x ``height`` pixels named ``label``
    for screen readers."""
    return (f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'role="img" aria-label="{escape(label)}">')


def _caption(label: str, x: float, height: int) -> str:
    """``label`` centred at ``x`` along the bottom of a chart ``height`` pixels high ("" for
    no label)."""
    if not label:
        return ""
    return f'<text x="{x:.1f}" y="{height - 3}" text-anchor="middle">{escape(label)}</text>'


def histogram(values: Sequence[float], lo: float, hi: float, *, bins: int = 20, width: int = 420,
              height: int = 150, label: str = "", color: str = BLUE, marker: float | None = None,
              marker_label: str = "") -> str:
    """Counts of ``values`` in ``bins`` equal bins over [lo, hi] (the last bin closed)."""
    if hi <= lo:
        hi = lo + 1.0
    counts = [0] * bins
    for v in values:
        i = int((min(max(v, lo), hi) - lo) / (hi - lo) * bins)
        counts[min(i, bins - 1)] += 1
    top = max(counts) or 1
    pad_l, pad_b, pad_t = 34, 30, 8
    w, h = width - pad_l - 6, height - pad_b - pad_t
    bw = w / bins
    parts = [_svg_open(width, height, label or "histogram")]
    for i, c in enumerate(counts):
        if not c:
            continue
        bh = h * c / top
        a, b = lo + (hi - lo) * i / bins, lo + (hi - lo) * (i + 1) / bins
        parts.append(f'<rect x="{pad_l + i * bw + 0.5:.1f}" y="{pad_t + h - bh:.1f}" width="{bw - 1:.1f}" '
                     f'height="{bh:.1f}" fill="{color}"><title>{_fmt(a)} to {_fmt(b)}: {c}</title></rect>')
    base = pad_t + h
    parts.append(f'<line x1="{pad_l}" y1="{base}" x2="{pad_l + w}" y2="{base}" stroke="#333"/>')
    for frac in (0, 0.5, 1):
        x = pad_l + w * frac
        parts.append(f'<text x="{x:.1f}" y="{base + 13}" text-anchor="middle">{_fmt(lo + (hi - lo) * frac)}</text>')
    parts.append(f'<text x="{pad_l - 4}" y="{pad_t + 9}" text-anchor="end">{top}</text>'
                 f'<text x="{pad_l - 4}" y="{base}" text-anchor="end">0</text>')
    if marker is not None and lo <= marker <= hi:
        x = pad_l + w * (marker - lo) / (hi - lo)
        parts.append(f'<line x1="{x:.1f}" y1="{pad_t}" x2="{x:.1f}" y2="{base}" stroke="{RED}" '
                     f'stroke-dasharray="4 3"><title>{escape(marker_label)}</title></line>')
    parts.append(_caption(label, pad_l + w / 2, height))
    parts.append("</svg>")
    return "".join(parts)


def rate_bar(rate: float, width: int = 90) -> str:
    """A pass-rate bar: green for the passing share, red for the rest."""
    g = max(0.0, min(1.0, rate)) * width
    return (f'<svg class="bar" width="{width}" height="10" viewBox="0 0 {width} 10" aria-hidden="true">'
            f'<rect width="{width}" height="10" fill="{RED}"/><rect width="{g:.1f}" height="10" fill="{GREEN}"/></svg>')


def class_bars(values: Sequence[float], names: Sequence[str], *, lo: float = 0.0, hi: float = 1.0,
               label: str = "", width: int | None = None, height: int = 150) -> str:
    """One bar per class (per-class F1)."""
    n = max(1, len(values))
    width = width or max(220, 22 * n + 40)
    pad_l, pad_b, pad_t = 30, 30, 8
    w, h = width - pad_l - 6, height - pad_b - pad_t
    bw = w / n
    parts = [_svg_open(width, height, label or "per class")]
    for i, v in enumerate(values):
        bh = h * (min(max(v, lo), hi) - lo) / ((hi - lo) or 1)
        nm = escape(str(names[i]) if i < len(names) else str(i))
        parts.append(f'<rect x="{pad_l + i * bw + 1:.1f}" y="{pad_t + h - bh:.1f}" width="{bw - 2:.1f}" '
                     f'height="{bh:.1f}" fill="{BLUE}"><title>{nm}: {v:.3f}</title></rect>'
                     f'<text x="{pad_l + (i + 0.5) * bw:.1f}" y="{pad_t + h + 12}" text-anchor="middle">{nm}</text>')
    parts.append(f'<line x1="{pad_l}" y1="{pad_t + h}" x2="{pad_l + w}" y2="{pad_t + h}" stroke="#333"/>'
                 f'<text x="{pad_l - 4}" y="{pad_t + 9}" text-anchor="end">{_fmt(hi)}</text>'
                 f'<text x="{pad_l - 4}" y="{pad_t + h}" text-anchor="end">{_fmt(lo)}</text>')
    parts.append(_caption(label, pad_l + w / 2, height))
    parts.append("</svg>")
    return "".join(parts)


def confusion(matrix: Sequence[Sequence[int]], names: Sequence[str] = (), *, cell: int = 22) -> str:
    """A confusion matrix heat map: rows true, columns predicted; counts in the cells."""
    n = len(matrix)
    names = [str(x) for x in names] if len(names) == n else [str(i) for i in range(n)]
    top = max((max(r) for r in matrix if r), default=0) or 1
    pad = 34
    size = pad + n * cell + 4
    parts = [_svg_open(size, size + 14, "confusion matrix")]
    for i, row in enumerate(matrix):
        parts.append(f'<text x="{pad - 4}" y="{pad + i * cell + cell * 0.65:.1f}" text-anchor="end">{escape(names[i])}</text>')
        for j, c in enumerate(row):
            t = c / top
            fill = f"rgb({int(247 - 200 * t)},{int(251 - 140 * t)},{int(255 - 80 * t)})"
            parts.append(f'<rect x="{pad + j * cell}" y="{pad + i * cell}" width="{cell - 1}" height="{cell - 1}" '
                         f'fill="{fill}"><title>true {escape(names[i])}, predicted {escape(names[j])}: {c}</title></rect>')
            if c:
                parts.append(f'<text x="{pad + j * cell + cell / 2:.1f}" y="{pad + i * cell + cell * 0.65:.1f}" '
                             f'text-anchor="middle" fill="{"#fff" if t > 0.5 else "#000"}">{c}</text>')
    for j in range(n):
        parts.append(f'<text x="{pad + j * cell + cell / 2:.1f}" y="{pad - 6}" text-anchor="middle">{escape(names[j])}</text>')
    parts.append(f'<text x="{pad + n * cell / 2:.1f}" y="{size + 10}" text-anchor="middle">predicted (rows: true)</text>')
    parts.append("</svg>")
    return "".join(parts)
