"""Colours of the dashboard and the WCAG contrast arithmetic that keeps them readable.

Bars use the Okabe-Ito colour-blind-safe pair (blue for "lowers the risk / repaid", vermilion
for "raises the risk / defaulted"); text never relies on those, it uses the darker pair below,
and every coloured mark also carries a word, a sign or a pattern.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

CONFIG_PATH = Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml"

# Bars and marks (>= 3:1 against white, WCAG 1.4.11 non-text contrast).
BLUE = "#0072B2"
VERMILION = "#D55E00"
# Chart background and guides (decoration: no contrast requirement).
WHITE = "#FFFFFF"
GRID = "#E5E7EB"
ZERO_LINE = "#9CA3AF"
# Coloured text (>= 4.5:1 against white, WCAG 1.4.3).
GRANT_TEXT = "#1F5F99"
REFUSE_TEXT = "#A1141F"
MUTED_TEXT = "#4B5563"
INK = "#1A1F2B"
GRANT_TINT = "#EAF2FA"
REFUSE_TINT = "#FCEDEA"
# "refer to a human": neither colour of an automatic decision.
REFER_TEXT = "#374151"
REFER_TINT = "#F3F4F6"
REFER_BAR = "#6B7280"

# Patterns say "raises the risk" without colour (Plotly marker pattern shapes).
PATTERN_RISK_UP = "/"
PATTERN_RISK_DOWN = ""

TEXT_PAIRS: dict[str, tuple[str, str]] = {
    "decision grant text": (GRANT_TEXT, GRANT_TINT),
    "decision refuse text": (REFUSE_TEXT, REFUSE_TINT),
    "decision refer text": (REFER_TEXT, REFER_TINT),
    "muted text": (MUTED_TEXT, WHITE),
    "ink on white": (INK, WHITE),
}


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(hex_colour: str) -> float:
    """WCAG 2.1 relative luminance of a #RRGGBB colour."""
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(ch * 2 for ch in h)
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG contrast ratio, from 1 (none) to 21 (black on white)."""
    la, lb = relative_luminance(foreground), relative_luminance(background)
    hi, lo = max(la, lb), min(la, lb)
    return (hi + 0.05) / (lo + 0.05)


def load_theme(path: Path = CONFIG_PATH) -> dict[str, object]:
    """The [theme] table of the Streamlit config the app is started with."""
    with path.open("rb") as handle:
        theme = tomllib.load(handle).get("theme", {})
    return dict(theme)
