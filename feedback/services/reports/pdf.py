"""The administrative document on A4 (Decree 30/2020/NĐ-CP layout), shared by the period
reports and the apology letters: the two-column heading (issuing body on the left, the
national motto on the right), number, place and date, title, paragraphs, tables and the
signature block. Vietnamese text is drawn with the DejaVu fonts shipped in feedback/data."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from fpdf import FPDF, FontFace, XPos, YPos

from ...domain.marks import N_

FONT_DIR = Path(__file__).resolve().parents[2] / "data" / "fonts"
FONT = "DejaVu"
# Marked (N_): a period report asked for in English says them in English; the apology
# letter, an official document to a citizen, always in Vietnamese (the defaults).
NATIONAL = (N_("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"), N_("Độc lập - Tự do - Hạnh phúc"))
RECIPIENTS = N_("Nơi nhận:")
LEFT_W = 72.0  # mm: the issuing body's column; the rest holds the motto
LINE = 6.0


def nfc(text: str) -> str:
    """Precomposed characters: DejaVu has every Vietnamese letter as one glyph."""
    return unicodedata.normalize("NFC", text)


def place_date(place: str, day: date) -> str:
    """«TP. Hà Giang, ngày 05 tháng 3 năm 2023»: days below 10 and months 1 and 2 take a
    leading zero (Decree 30/2020/NĐ-CP, appendix I)."""
    month = f"{day.month:02d}" if day.month <= 2 else str(day.month)
    return N_(
        "%(place)s, ngày %(day)s tháng %(month)s năm %(year)s",
        place=place,
        day=f"{day.day:02d}",
        month=month,
        year=day.year,
    )


def number(value: float | int | None) -> str:
    """A figure as Vietnamese print shows it: decimal comma (one decimal, two when the
    figure has them), thousands with dots, «—» when there is none."""
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}".replace(",", ".")
    digits = 1 if round(value, 1) == value else 2
    return f"{value:,.{digits}f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def percent(value: float | None) -> str:
    return "—" if value is None else f"{number(value)}%"


class Document(FPDF):
    def __init__(self, title: str, lang: str = "vi") -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.add_font(FONT, "", str(FONT_DIR / "DejaVuSans.ttf"))
        self.add_font(FONT, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
        self.set_margins(25, 20, 15)
        self.set_auto_page_break(True, margin=20)
        self.set_title(nfc(title))
        self.set_creator("feedback – UBND thành phố Hà Giang")
        self.set_lang(lang)
        self.add_page()
        self.set_font(FONT, size=12)

    def footer(self) -> None:
        if self.page_no() > 1:
            self.set_y(-15)
            self.set_font(FONT, size=8)
            self.cell(0, 5, str(self.page_no()), align="C")

    # --- blocks ------------------------------------------------------------------------

    def _column(
        self, x: float, y: float, w: float, lines: Sequence[tuple[str, bool]], rule: float
    ) -> float:
        """Centred lines in a column; a rule under the last bold line, ``rule`` times its
        width. Returns the y below it."""
        self.set_xy(x, y)
        last_bold = max((i for i, (_, bold) in enumerate(lines) if bold), default=-1)
        for i, (text, bold) in enumerate(lines):
            self.set_font(FONT, "B" if bold else "", 11 if bold else 12)
            self.set_x(x)
            self.multi_cell(w, LINE, nfc(text), align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
            if i == last_bold:
                span = min(self.get_string_width(nfc(text)), w) * rule
                y = self.get_y() + 0.5
                self.line(x + (w - span) / 2, y, x + (w + span) / 2, y)
                self.set_y(self.get_y() + 1.5)
        return self.get_y()

    def heading(
        self,
        issuer: Sequence[str],
        doc_number: str,
        where_when: str,
        bold_from: int = 1,
        national: Sequence[str] = NATIONAL,
    ) -> None:
        """Issuer lines (the first ``bold_from`` plain, the rest bold) and the number on the
        left; the motto (``national``) and the place and date on the right."""
        top = self.get_y()
        left = [(t, i >= bold_from) for i, t in enumerate(issuer)]
        left_end = self._column(self.l_margin, top, LEFT_W, left, 0.4)
        right_w = self.epw - LEFT_W
        right_end = self._column(
            self.l_margin + LEFT_W, top, right_w, [(national[0], True), (national[1], True)], 1.0
        )
        y = max(left_end, right_end) + 1
        self.set_font(FONT, size=12)
        self.set_xy(self.l_margin, y)
        self.cell(LEFT_W, LINE, nfc(doc_number), align="C")
        self.set_xy(self.l_margin + LEFT_W, y)
        self.cell(right_w, LINE, nfc(where_when), align="C")
        self.set_xy(self.l_margin, y + LINE * 2)

    def doc_title(self, first: str, *rest: str) -> None:
        self.set_font(FONT, "B", 13)
        self.multi_cell(0, 7, nfc(first), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        for line in rest:
            self.set_font(FONT, "B", 12)
            self.multi_cell(0, LINE, nfc(line), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(4)
        self.set_font(FONT, size=12)

    def section(self, text: str) -> None:
        self.ln(2)
        self.set_font(FONT, "B", 12)
        self.multi_cell(0, LINE, nfc(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(FONT, size=12)

    def para(self, text: str, indent: bool = True, size: int = 12) -> None:
        self.set_font(FONT, size=size)
        lead = "      " if indent else ""
        self.multi_cell(0, LINE, nfc(lead + text), align="J", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def grid(
        self, header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float]
    ) -> None:
        """A bordered table, 9 pt, header repeated on each page; numbers right-aligned."""
        self.ln(1)
        self.set_font(FONT, size=9)
        aligns = ["LEFT"] + ["RIGHT"] * (len(header) - 1)
        with self.table(
            col_widths=tuple(widths),
            text_align=tuple(aligns),
            headings_style=FontFace(emphasis="BOLD"),
            line_height=4.6,
            padding=1,
            width=self.epw,
        ) as table:
            head = table.row()
            for text in header:
                head.cell(nfc(text), align="CENTER")
            for values in rows:
                row = table.row()
                for text in values:
                    row.cell(nfc(text))
        self.ln(3)
        self.set_font(FONT, size=12)

    def sign_block(
        self,
        recipients: Sequence[str],
        signer: Sequence[str],
        name: str = "",
        recipients_title: str = RECIPIENTS,
    ) -> None:
        """«Nơi nhận» on the left in 10 pt; the signer's authority and title on the right,
        with room for the signature and seal, then the name."""
        self.ln(4)
        if self.will_page_break(50):
            self.add_page()
        top = self.get_y()
        self.set_font(FONT, "B", 10)
        self.cell(LEFT_W, 5, nfc(recipients_title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(FONT, size=9)
        for item in recipients:
            self.multi_cell(LEFT_W, 4.5, nfc(item), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        x, w = self.l_margin + LEFT_W, self.epw - LEFT_W
        self.set_xy(x, top)
        self.set_font(FONT, "B", 12)
        for line in signer:
            self.set_x(x)
            self.cell(w, LINE, nfc(line), align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
        if name:
            self.set_xy(x, self.get_y() + 22)
            self.cell(w, LINE, nfc(name), align="C")


def save(document: FPDF, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(document.output()))
