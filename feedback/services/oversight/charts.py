"""Charts drawn on the server as inline SVG, so a page needs no script to show them.

Every chart has a ``<title>`` and a ``<desc>`` (referenced by ``aria-labelledby``), every
bar or column carries its value as text beside it and its own ``<title>``, and the page
puts the same numbers in a table next to the chart. The output is well-formed XML: all
text goes through ``markupsafe.escape``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from ...domain.marks import N_
from ...domain.text import VIETNAMESE

WIDTH = 720
LABEL_WIDTH = 250
VALUE_ROOM = 64
BAR = 14
BAR_GAP = 3
GROUP_GAP = 10
FONT = 'font-family="system-ui, sans-serif" font-size="12"'
COLOURS = ("#0969da", "#1a7f37", "#8250df", "#bf8700")
TARGET_COLOUR = "#b3261e"
MAX_LABEL = 38
NO_DATA = N_("Chưa có số liệu trong kỳ.")


def _same(text: str) -> str:
    return text


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]


def number(
    value: float | None, decimals: int = 1, suffix: str = "", *, english: bool = False
) -> str:
    """Vietnamese notation: decimal comma, thousands dot (``english``: the other way round);
    "—" when there is no value."""
    if value is None:
        return "—"
    text = f"{value:,.{decimals}f}"
    point = "."
    if not english:
        text, point = text.replace(",", " ").replace(".", ",").replace(" ", "."), ","
    if decimals and point in text:
        text = text.rstrip("0").rstrip(point)
    return f"{text}{suffix}"


def _named(label: str) -> str:
    """A group's name in a bar's tooltip: a name from the data (a unit, an area) stays
    Vietnamese on an English page, and says so."""
    return (
        f'<tspan lang="vi">{escape(label)}</tspan>' if VIETNAMESE.search(label) else escape(label)
    )


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1].rstrip() + "…"


def _open(chart_id: str, title: str, desc: str, height: int) -> list[str]:
    cid = escape(chart_id)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{cid}" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
        f'aria-labelledby="{cid}-title {cid}-desc">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(desc)}</desc>',
    ]


def bar_chart(
    chart_id: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    maximum: float = 100.0,
    target: float | None = None,
    suffix: str = "%",
    translate: Callable[[str], str] = _same,
    english: bool = False,
) -> Markup:
    """Horizontal bars, one group per label and one bar per series; values on a fixed
    scale [0, maximum] (shares: 0–100) and, when given, a dashed target line. The caller
    gives the title, labels and names in the reader's language; ``translate`` says the
    chart's own words (no data, the target)."""
    legend = 20 if len(series) > 1 else 0
    top = 22 + legend
    group = len(series) * (BAR + BAR_GAP) - BAR_GAP + GROUP_GAP
    height = top + max(1, len(labels)) * group + 8
    x0 = LABEL_WIDTH + 8
    plot = WIDTH - x0 - VALUE_ROOM
    parts = _open(chart_id, title, desc, height)
    parts.append(f"<g {FONT}>")
    for i, s in enumerate(series if legend else ()):
        x = x0 + i * 170
        parts.append(f'<rect x="{x}" y="4" width="12" height="12" fill="{COLOURS[i % 4]}"/>')
        parts.append(f'<text x="{x + 16}" y="14">{escape(s.name)}</text>')
    if not labels:
        parts.append(f'<text x="{x0}" y="{top + 12}">{escape(translate(NO_DATA))}</text>')
    for row, label in enumerate(labels):
        y = top + row * group
        middle = y + (group - GROUP_GAP) / 2 + 4
        data = ' lang="vi"' if VIETNAMESE.search(label) else ""
        parts.append(
            f'<text x="{LABEL_WIDTH}" y="{middle:.1f}" text-anchor="end"{data}>'
            f"<title>{escape(label)}</title>{escape(_short(label))}</text>"
        )
        for i, s in enumerate(series):
            value = s.values[row] if row < len(s.values) else None
            by = y + i * (BAR + BAR_GAP)
            shown = number(value, suffix=suffix, english=english)
            if value is not None and maximum > 0:
                width = plot * min(max(value, 0.0), maximum) / maximum
                parts.append(
                    f'<rect x="{x0}" y="{by}" width="{width:.1f}" height="{BAR}" '
                    f'fill="{COLOURS[i % 4]}"><title>{_named(label)} – {escape(s.name)}: '
                    f"{escape(shown)}</title></rect>"
                )
            else:
                width = 0.0
            parts.append(
                f'<text x="{x0 + width + 4:.1f}" y="{by + BAR - 3}">{escape(shown)}</text>'
            )
    parts.append(f'<line x1="{x0}" y1="{top - 4}" x2="{x0}" y2="{height - 6}" stroke="#57606a"/>')
    if target is not None and maximum > 0:
        tx = x0 + plot * min(target, maximum) / maximum
        name = translate(
            N_("Chỉ tiêu %(target)s", target=number(target, suffix=suffix, english=english))
        )
        parts.append(
            f'<line class="target" x1="{tx:.1f}" y1="{top - 6}" x2="{tx:.1f}" '
            f'y2="{height - 6}" stroke="{TARGET_COLOUR}" stroke-width="2" '
            f'stroke-dasharray="5 3"><title>{escape(name)}</title></line>'
        )
        parts.append(
            f'<text x="{tx:.1f}" y="{top - 8}" text-anchor="end" '
            f'fill="{TARGET_COLOUR}">{escape(name)}</text>'
        )
    parts.append("</g></svg>")
    return Markup("".join(parts))


def column_chart(
    chart_id: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    suffix: str = "",
    decimals: int = 0,
    translate: Callable[[str], str] = _same,
    english: bool = False,
) -> Markup:
    """Vertical columns (a count per month), each with its value above and label below."""
    height = 240
    top, bottom, left = 24, 40, 12
    plot_h = height - top - bottom
    n = max(1, len(labels))
    slot = (WIDTH - 2 * left) / n
    peak = max((v for v in values if v is not None), default=0) or 1
    small = n > 12
    parts = _open(chart_id, title, desc, height)
    parts.append(f"<g {FONT}>")
    base = top + plot_h
    parts.append(
        f'<line x1="{left}" y1="{base}" x2="{WIDTH - left}" y2="{base}" stroke="#57606a"/>'
    )
    if not labels:
        parts.append(f'<text x="{left}" y="{top + 12}">{escape(translate(NO_DATA))}</text>')
    for i, label in enumerate(labels):
        value = values[i] if i < len(values) else 0
        h = plot_h * max(value, 0) / peak
        cx = left + slot * i + slot / 2
        w = min(48.0, slot * 0.6)
        shown = number(value, decimals, suffix, english=english)
        parts.append(
            f'<rect x="{cx - w / 2:.1f}" y="{base - h:.1f}" width="{w:.1f}" height="{h:.1f}" '
            f'fill="{COLOURS[0]}"><title>{escape(label)}: {escape(shown)}</title></rect>'
        )
        parts.append(
            f'<text x="{cx:.1f}" y="{base - h - 4:.1f}" text-anchor="middle">{escape(shown)}</text>'
        )
        size = ' font-size="10"' if small else ""
        parts.append(
            f'<text x="{cx:.1f}" y="{base + 16}" text-anchor="middle"{size}>{escape(label)}</text>'
        )
    parts.append("</g></svg>")
    return Markup("".join(parts))
