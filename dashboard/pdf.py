"""A one-page decision summary for the client, built with fpdf2 (no browser, no chart engine).

The gauge is drawn with rectangles; the text uses the PDF core fonts, so characters outside
Latin-1 (typographic quotes, arrows) are replaced by plain equivalents first.
"""

from __future__ import annotations

import datetime as dt

from fpdf import FPDF

from dashboard import theme
from dashboard.api_client import Decision, Explanation
from dashboard.describe import decision_words, verdict
from dashboard.i18n import Lang, pct, tr

_PLAIN = str.maketrans(
    {
        "’": "'",
        "‘": "'",
        "“": '"',
        "”": '"',
        "–": "-",
        "—": "-",
        "…": "...",
        "≥": ">=",
        "≤": "<=",
        "→": "->",
        "▲": "+",
        "▼": "-",
        "\u202f": " ",
        "\u00a0": " ",
        "−": "-",
        "œ": "oe",
        "Œ": "OE",
    }
)


def plain(text: str) -> str:
    """Text the PDF core fonts can draw (Latin-1), French accents kept."""
    return text.translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def _gauge(pdf: FPDF, probability: float, threshold: float, decision: Decision, lang: Lang) -> None:
    x, y, width, height = pdf.l_margin, pdf.get_y() + 2, pdf.epw, 8
    pdf.set_fill_color(*_rgb(theme.GRANT_TINT))
    pdf.rect(x, y, width * threshold, height, style="F")
    pdf.set_fill_color(*_rgb(theme.REFUSE_TINT))
    pdf.rect(x + width * threshold, y, width * (1 - threshold), height, style="F")
    bar = theme.VERMILION if decision == "refuse" else theme.BLUE
    pdf.set_fill_color(*_rgb(bar))
    pdf.rect(x, y + 2, width * probability, height - 4, style="F")
    pdf.set_draw_color(*_rgb(theme.INK))
    pdf.set_line_width(0.8)
    pdf.line(x + width * threshold, y - 2, x + width * threshold, y + height + 2)
    pdf.set_y(y + height + 3)
    pdf.set_font("Helvetica", size=9)
    label = f"{tr(lang, 'gauge.threshold')} {pct(threshold, lang)}"
    pdf.set_x(x + width * threshold - 20)
    pdf.cell(40, 5, plain(label), align="C")
    pdf.ln(8)


def _reasons(pdf: FPDF, title: str, sentences: list[str], lang: Lang) -> None:
    pdf.set_font("Helvetica", style="B", size=12)
    pdf.cell(0, 8, plain(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    for sentence in sentences[:3] or [tr(lang, "reasons.none")]:
        pdf.multi_cell(0, 6, plain(f"-  {sentence}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)


def decision_summary(
    expl: Explanation, client_id: int, lang: Lang, today: dt.date | None = None
) -> bytes:
    """The PDF bytes of a one-page summary of this client's decision, in ``lang``."""
    refused = expl["decision"] == "refuse"
    pdf = FPDF(format="A4")
    pdf.set_title(plain(tr(lang, "pdf.title")))
    pdf.set_lang(lang)
    pdf.set_author(tr(lang, "app.brand"))
    pdf.add_page()
    pdf.set_margins(20, 20, 20)
    pdf.set_text_color(*_rgb(theme.INK))
    pdf.set_font("Helvetica", style="B", size=10)
    pdf.cell(0, 6, plain(tr(lang, "app.brand")), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", style="B", size=18)
    pdf.cell(0, 11, plain(tr(lang, "pdf.title")), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    date = (today or dt.date.today()).isoformat()
    line = f"{tr(lang, 'pdf.client', client_id=client_id)}   |   {tr(lang, 'pdf.date', date=date)}"
    pdf.cell(0, 6, plain(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    words = verdict(expl["decision"], lang)
    pdf.set_text_color(*_rgb(theme.REFUSE_TEXT if refused else theme.GRANT_TEXT))
    pdf.set_font("Helvetica", style="B", size=20)
    pdf.cell(0, 12, plain(f"{'X' if refused else 'OK'}  {words}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(*_rgb(theme.INK))
    pdf.set_font("Helvetica", size=11)
    position = decision_words(expl["probability"], expl["threshold"], lang)
    pdf.multi_cell(0, 6, plain(position), new_x="LMARGIN", new_y="NEXT")
    _gauge(pdf, expl["probability"], expl["threshold"], expl["decision"], lang)
    _reasons(pdf, tr(lang, "reasons.against"), expl["reasons"]["against"], lang)
    _reasons(pdf, tr(lang, "reasons.for"), expl["reasons"]["for"], lang)
    pdf.ln(4)
    pdf.set_font("Helvetica", style="I", size=9)
    pdf.set_text_color(*_rgb(theme.MUTED_TEXT))
    pdf.multi_cell(0, 5, plain(tr(lang, "pdf.note")), new_x="LMARGIN", new_y="NEXT")
    model = tr(lang, "decision.model", version=expl["model_version"])
    pdf.cell(0, 5, plain(model), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
