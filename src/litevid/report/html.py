"""``index.html``: the whole report in one self-contained file.

Images are inlined as base64 PNG and the tables carry a few lines of inline JavaScript that sort
a column on a click (numbers by value, ``-`` last), so the file can be mailed or attached to a
paper's supplement and opened anywhere, offline, with nothing beside it.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from typing import Any

from .figures import Figure
from .tables import Table

__all__ = ["render_html"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;
max-width:1200px;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd}h3{font-size:1.05em}
table.sortable{border-collapse:collapse;font-size:.85em;margin:.5em 0}
table.sortable th,table.sortable td{padding:.25em .6em;border-bottom:1px solid #eee}
table.sortable th{cursor:pointer;background:#f5f5f5;position:sticky;top:0;text-align:left}
table.sortable th:after{content:" \\2195";color:#aaa;font-size:.8em}
td.num{text-align:right;font-variant-numeric:tabular-nums}
p.caption,figcaption{color:#555;font-size:.85em;max-width:60em}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}
.note{color:#8a5a00}.scroll{overflow-x:auto}
"""

# Click a header to sort by that column; click again to reverse. Cells with data-v sort as
# numbers; empty values ('-') go last either way.
_JS = """
window.addEventListener('load',function(){  // for headless checks: images that decoded
  var n=0;document.querySelectorAll('figure img').forEach(function(i){if(i.naturalWidth>0)n++;});
  document.body.setAttribute('data-images-loaded',String(n));
});
document.querySelectorAll('table.sortable').forEach(function(t){
  t.querySelectorAll('th').forEach(function(th,col){
    th.addEventListener('click',function(){
      var asc=th.dataset.dir!=='asc';th.dataset.dir=asc?'asc':'desc';
      var body=t.tBodies[0],rows=Array.prototype.slice.call(body.rows);
      function key(r){var c=r.cells[col];
        if(c.dataset.v!==undefined){return c.dataset.v===''?null:parseFloat(c.dataset.v);}
        var s=c.textContent.trim();return s==='-'?null:s;}
      rows.sort(function(a,b){var x=key(a),y=key(b);
        if(x===null)return y===null?0:1; if(y===null)return -1;
        var d=(typeof x==='number'&&typeof y==='number')?x-y:String(x).localeCompare(String(y));
        return asc?d:-d;});
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
});
"""


def _table_html(t: Table) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in t.columns)
    body = []
    for i, row in enumerate(t.rows):
        cells = []
        for j, v in enumerate(row):
            text = esc(t.text(i, j))
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                cells.append(f'<td class="num" data-v="{v!r}">{text}</td>')
            elif v is None and t.numeric(j):
                cells.append(f'<td class="num" data-v="">{text}</td>')
            else:
                cells.append(f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    caption = f'<p class="caption">{esc(t.caption)}</p>' if t.caption else ""
    return (f'<section id="{esc(t.name)}"><h3>{esc(t.title)}</h3><div class="scroll">'
            f'<table class="sortable" data-name="{esc(t.name)}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>{caption}</section>')


def _figure_html(f: Figure) -> str:
    png = next(p for p in f.paths if p.suffix == ".png")
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    esc = html.escape
    return (f'<figure id="{esc(f.name)}"><img alt="{esc(f.title)}" '
            f'src="data:image/png;base64,{data}"><figcaption><b>{esc(f.title)}.</b> '
            f'{esc(f.caption)} Files: {esc(", ".join(p.name for p in f.paths))}.</figcaption>'
            "</figure>")


def render_html(*, title: str, summary: Sequence[str], tables: Sequence[Table],
                figures: Sequence[Figure], notes: Sequence[str],
                sections: Sequence[tuple[str, Sequence[Any]]] | None = None) -> str:
    """The report page.

    Args:
        title: page title.
        summary: lines shown under the title (sources, devices, row counts).
        tables: every table, in order.
        figures: every written figure (PNG inlined).
        notes: why something is absent (shown, never an empty figure).
        sections: optional ``(heading, items)`` grouping of tables and figures; by default
            figures first, then tables.
    """
    esc = html.escape
    sections = sections or [("Figures", list(figures)), ("Tables", list(tables))]
    parts = [f"<h1>{esc(title)}</h1>", "<ul>" + "".join(f"<li>{esc(s)}</li>" for s in summary)
             + "</ul>"]
    if notes:
        parts.append("<h2>Not drawn</h2><ul>" + "".join(f'<li class="note">{esc(n)}</li>'
                                                        for n in notes) + "</ul>")
    toc = []
    for heading, items in sections:
        if not items:
            continue
        parts.append(f"<h2>{esc(heading)}</h2>")
        for item in items:
            if isinstance(item, Table):
                parts.append(_table_html(item))
                toc.append((item.name, item.title))
            else:
                parts.append(_figure_html(item))
                toc.append((item.name, item.title))
    nav = "<nav><b>Contents</b><ul>" + "".join(
        f'<li><a href="#{esc(n)}">{esc(t)}</a></li>' for n, t in toc) + "</ul></nav>"
    parts.insert(2, nav)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width\"><title>{esc(title)}</title>"
            f"<style>{_CSS}</style></head><body>{''.join(parts)}<script>{_JS}</script>"
            "</body></html>\n")
