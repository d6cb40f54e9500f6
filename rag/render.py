"""Human-readable terminal output for answers (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

_L = {
    "en": {"evidence": "Evidence", "figures": "Figures", "value": "figure", "what": "what", "who": "who says so",
           "when": "when", "source": "source", "notice": "note", "refused": "not answerable from the sources"},
    "de": {"evidence": "Belege", "figures": "Zahlen", "value": "Zahl", "what": "was", "who": "laut",
           "when": "wann", "source": "Quelle", "notice": "Hinweis", "refused": "aus den Quellen nicht beantwortbar"},
}


def print_answer(ans: Any, streamed: bool = False, console: Console | None = None) -> None:
    """Print answer, conflict flag, evidence list and figures table."""
    con = console or Console()
    lab = _L["de" if ans.language == "de" else "en"]
    if streamed:
        con.print()
    else:
        con.print(ans.answer, markup=False, highlight=False)
    for n in ans.notices:
        con.print(f"[yellow]{lab['notice']}:[/] {n}", highlight=False)
    if ans.flag:
        con.print(f"\n[bold red]⚠ {ans.flag}[/]", highlight=False)
    if not ans.answerable:
        con.print(f"[dim]({lab['refused']})[/]")
    if ans.evidence:
        con.print(f"\n[bold]{lab['evidence']}[/]")
        cited = {c["n"] for c in ans.citations}
        for e in ans.evidence:
            nd = "o. D." if ans.language == "de" else "n.d."
            con.print(f"[{e.n}] {e.title} ({e.date or nd}) {e.doc_id}:{e.start}-{e.end}", markup=False,
                      highlight=False, style=None if e.n in cited else "dim")
            con.print(f"    “{e.quote}”", markup=False, highlight=False, style=None if e.n in cited else "dim")
    figs = [f for f in ans.figures if f.get("concept")]
    if figs and ans.answerable:
        t = Table(title=lab["figures"], show_lines=False)
        for col in ("value", "what", "who", "when", "source"):
            t.add_column(lab[col], overflow="fold")
        for f in figs:
            what = (f.get("unit") or f.get("concept") or "") + (" (+)" if f.get("role") == "increment" else "")
            t.add_row(f["display"], what, f.get("attributed_to") or "", f.get("refers_to_time") or "",
                      f"[{f.get('citation')}] {f.get('doc_id')}")
        con.print(t)
    v = ans.validation
    if v.get("dropped_citations") or v.get("unsupported_figures"):
        con.print(f"[yellow]citation check: dropped {v.get('dropped_citations')}, "
                  f"unsupported figures {v.get('unsupported_figures')}[/]")
