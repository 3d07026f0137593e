"""A self-contained HTML page: sections of figures (inline base64 PNG), tables and text.

The page loads nothing from outside (no scripts, styles, fonts or images by URL), so it can be
mailed or archived as one file. Each figure is also written beside it as PNG and SVG. A short
inline script checks after loading that every image decoded and reports any that did not on the
console — which is what the headless-browser test watches.
"""

from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

PNG_DPI = 110
MAX_OPEN_ROWS = 12  # longer tables start collapsed: the page stays readable, one click shows them


@dataclass
class FigureItem:
    stem: str
    caption: str
    png: Path
    svg: Path
    png_base64: str


@dataclass
class TableItem:
    frame: pd.DataFrame
    caption: str = ""
    links: list[str | None] | None = None  # per row: where its first cell links to (an anchor "#...")


@dataclass
class TextItem:
    text: str


@dataclass
class CodeItem:
    text: str
    summary: str
    anchor: str | None = None


@dataclass
class DetailsItem:
    """A collapsed block (open on click) of other items, with an anchor to link to it."""

    summary: str
    items: list
    anchor: str | None = None


@dataclass
class Section:
    title: str
    items: list = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return "".join(c if c.isalnum() else "-" for c in self.title.lower()).strip("-")


@dataclass
class Page:
    title: str
    subtitle: str
    sections: list[Section]
    facts: list[tuple[str, str]] = field(default_factory=list)


def save_figure(fig, out: Path, stem: str, caption: str) -> FigureItem:
    """Write `fig` as out/stem.png and out/stem.svg; keep the PNG bytes for inlining."""
    out.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=PNG_DPI)
    png_bytes = buffer.getvalue()
    png, svg = out / f"{stem}.png", out / f"{stem}.svg"
    png.write_bytes(png_bytes)
    fig.savefig(svg, format="svg")
    return FigureItem(stem, caption, png, svg, base64.b64encode(png_bytes).decode("ascii"))


def _cell(value) -> str:
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def _td(value, link: str | None = None) -> str:
    """Numbers right-aligned (they compare by column), text left-aligned; `link` makes the cell a link."""
    numeric = value is None or (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool))
    content = _cell(value) if not link else f'<a href="{html.escape(link)}">{_cell(value)}</a>'
    return f"<td>{content}</td>" if numeric else f'<td class="text">{content}</td>'


def _row(values, link: str | None) -> str:
    return "<tr>" + "".join(_td(v, link if i == 0 else None) for i, v in enumerate(values)) + "</tr>"


def render_table(table: TableItem) -> str:
    frame = table.frame
    links = table.links or [None] * len(frame)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join(_row(row, link) for row, link in zip(frame.itertuples(index=False), links))
    caption = f"<caption>{html.escape(table.caption)}</caption>" if table.caption else ""
    out = f'<div class="table-wrap"><table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
    if len(frame) <= MAX_OPEN_ROWS:
        return out
    name = table.caption or "table"
    return f'<details class="table"><summary>{html.escape(name)} ({len(frame)} rows)</summary>{out}</details>'


def _id(anchor: str | None) -> str:
    return f' id="{html.escape(anchor)}"' if anchor else ""


def render_item(item) -> str:
    if isinstance(item, FigureItem):
        alt = html.escape(item.caption or item.stem)
        return (f'<figure id="fig-{html.escape(item.stem)}"><img alt="{alt}" src="data:image/png;base64,{item.png_base64}">'
                f"<figcaption>{html.escape(item.caption)} <span class=\"files\">({html.escape(item.png.name)}, "
                f"{html.escape(item.svg.name)})</span></figcaption></figure>")
    if isinstance(item, TableItem):
        return render_table(item)
    if isinstance(item, TextItem):
        return f"<p>{html.escape(item.text)}</p>"
    if isinstance(item, CodeItem):
        return (f"<details{_id(item.anchor)}><summary>{html.escape(item.summary)}</summary>"
                f"<pre>{html.escape(item.text)}</pre></details>")
    if isinstance(item, DetailsItem):
        inner = "".join(render_item(i) for i in item.items)
        return f'<details class="run"{_id(item.anchor)}><summary>{html.escape(item.summary)}</summary>{inner}</details>'
    raise TypeError(f"cannot render {type(item).__name__}")


STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1d1d1f; background: #fafafa; }
header { background: #24344d; color: white; padding: 18px 32px; }
header h1 { margin: 0 0 4px 0; font-size: 1.5em; }
header p { margin: 0; opacity: 0.85; }
nav { padding: 8px 32px; background: #e8ecf2; font-size: 0.92em; }
nav a { margin-right: 16px; color: #24344d; }
main { padding: 8px 32px 40px 32px; max-width: 1400px; }
section { margin-top: 28px; }
h2 { border-bottom: 2px solid #24344d; padding-bottom: 4px; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; font-size: 0.92em; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; }
figure { margin: 12px 0 24px 0; background: white; padding: 10px; border: 1px solid #ddd; border-radius: 4px; }
figure img { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 0.9em; color: #444; margin-top: 6px; }
figcaption .files { color: #888; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.88em; margin: 8px 0 16px 0; background: white; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
td.text { text-align: left; }
th { background: #eef1f5; }
td:first-child, th:first-child { text-align: left; font-family: ui-monospace, monospace; }
details { margin: 6px 0; } summary { cursor: pointer; }
details.table > summary, details.run > summary { font-weight: 600; font-size: 0.92em; }
details.run { background: white; border: 1px solid #ddd; border-radius: 4px; padding: 4px 10px; }
details:target > summary { background: #fff3c4; }
pre { background: #f0f0f0; padding: 10px; overflow-x: auto; font-size: 0.85em; }
footer { color: #888; font-size: 0.8em; padding: 0 32px 24px 32px; }
"""

# Report images that failed to decode on the console, where a browser test (or a reader's devtools)
# sees them; a page whose images are all fine writes nothing.
SELF_CHECK = """
window.addEventListener("load", function () {
  var bad = Array.prototype.filter.call(document.images, function (img) { return !img.complete || img.naturalWidth === 0; });
  bad.forEach(function (img) { console.error("groklab report: image failed to load: " + img.alt); });
});
"""


def render(page: Page) -> str:
    nav = "".join(f'<a href="#{s.anchor}">{html.escape(s.title)}</a>' for s in page.sections)
    facts = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in page.facts)
    sections = "".join(
        f'<section id="{s.anchor}"><h2>{html.escape(s.title)}</h2>{"".join(render_item(i) for i in s.items)}</section>'
        for s in page.sections)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{html.escape(page.title)}</title>
<style>{STYLE}</style>
</head>
<body>
<header><h1>{html.escape(page.title)}</h1><p>{html.escape(page.subtitle)}</p></header>
<nav>{nav}</nav>
<main>
<dl class="facts">{facts}</dl>
{sections}
</main>
<footer>Written by groklab on {stamp}. Figures are also saved beside this page as PNG and SVG.</footer>
<script>{SELF_CHECK}</script>
</body>
</html>
"""


def write_page(page: Page, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(page), encoding="utf-8")
    return path
