"""Human-readable terminal output for answers (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from rag.messages import LABELS
from rag.models import Answer


def print_answer(ans: Answer, streamed: bool = False, console: Console | None = None) -> None:
    """Print answer, disagreement flag, evidence list and the values-by-source table."""
    con = console or Console()
    lab = LABELS["de" if ans.language == "de" else "en"]
    if streamed:
        con.print()
    else:
        con.print(ans.answer, markup=False, highlight=False)
    for n in ans.notices:
        con.print(f"[yellow]{lab['notice']}:[/] {n}", highlight=False)
    if ans.flag:
        con.print("\n⚠ " + ans.flag, style="bold red", markup=False, highlight=False)
    if not ans.answerable:
        con.print(f"[dim]({lab['refused']})[/]")
    if ans.evidence:
        con.print(f"\n[bold]{lab['evidence']}[/]")
        cited = {c.n for c in ans.citations}
        for e in ans.evidence:
            nd = "o. D." if ans.language == "de" else "n.d."
            con.print(f"[{e.n}] {e.title} ({e.date or nd}) {e.doc_id}:{e.start}-{e.end}", markup=False,
                      highlight=False, style=None if e.n in cited else "dim")
            con.print(f"    “{e.quote}”", markup=False, highlight=False, style=None if e.n in cited else "dim")
    rows = [r for r in ans.readings if r.says and r.value is not None]
    if rows and ans.answerable:
        tbl = Table(title=lab["figures"], show_lines=False)
        for col in ("value", "what", "who", "when", "source"):
            tbl.add_column(lab[col], overflow="fold")
        what = ans.comparison.quantity if ans.comparison else ""
        for r in rows:
            assert r.value is not None
            tbl.add_row(r.value.display, what + (f" ({r.entity_label})" if r.entity_label else ""), r.attributed_to or "",
                        r.date or "", f"[{r.citation}] {r.doc_id}")
        con.print(tbl)
    v = ans.validation
    if v.get("dropped_citations") or v.get("unsupported_figures"):
        con.print(f"[yellow]citation check: dropped {v.get('dropped_citations')}, "
                  f"unsupported figures {v.get('unsupported_figures')}[/]")
