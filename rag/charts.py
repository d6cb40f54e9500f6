"""A picture of the disagreement: each source's value (a point) or range (a bar), by the date of its article,
labelled with its citation. The chat UI shows it beside the figures table; ``rag eval --out`` writes one per
question whose sources differ.
"""

from __future__ import annotations

import io
import math
from datetime import date
from pathlib import Path
from typing import Any

from rag.models import Answer
from rag.values import iso_bounds

_KINDS = ("conflict", "vary", "different_entities")
_COLORS = {"conflict": "#c0392b", "vary": "#d68910", "different_entities": "#2e86c1"}


def _points(ans: Answer) -> list[dict[str, Any]]:
    """One entry per source that states a value: x (article date or order), low/high/y, label, decisive."""
    comp = ans.comparison
    if comp is None or comp.kind not in _KINDS or comp.answer_type not in ("quantity", "date"):
        return []
    by_doc = {r.doc_id: r for r in ans.readings if r.says and r.value is not None}
    out = []
    for g in comp.groups:
        for doc_id in g.doc_ids:
            r = by_doc.get(doc_id)
            if r is None or r.value is None:
                continue
            v = r.value
            if v.kind == "quantity":
                low = v.low if v.low is not None else v.number
                high = v.high if v.high is not None else (math.inf if v.qualifier in ("more_than", "at_least") else v.number)
                y = v.number
            else:
                lo_d, hi_d = iso_bounds(v.key)
                low, high = float(lo_d.toordinal()), float(hi_d.toordinal())
                y = (low + high) / 2
            label = f"[{r.citation}]" if r.citation else doc_id[:10]
            named = comp.kind == "different_entities" or g.entity is not None  # one of several things of that name
            out.append({"date": r.date, "low": low, "high": high, "y": y, "label": label, "display": v.display,
                        "decisive": g.decisive, "entity": g.entity_label if named else None})
    return out if len({(p["low"], p["high"]) for p in out}) >= 2 else []


def disagreement_figure(ans: Answer) -> Any | None:
    """A matplotlib figure of the sources' values, or ``None`` when they do not differ (or are not numbers
    or dates)."""
    pts = _points(ans)
    if not pts:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    comp = ans.comparison
    assert comp is not None
    dated = all(p["date"] for p in pts)
    xs = [date.fromisoformat(p["date"]).toordinal() if dated else i for i, p in enumerate(pts)]
    if dated:  # articles of the same day side by side
        counts: dict[float, int] = {}
        shifted = []
        for x in xs:
            shifted.append(x + 0.15 * counts.get(x, 0))
            counts[x] = counts.get(x, 0) + 1
        xs = shifted
    finite = [v for p in pts for v in (p["low"], p["high"]) if v is not None and not math.isinf(v)]
    top = max(finite) if finite else 1.0
    fig, ax = plt.subplots(figsize=(4.6, 2.8), dpi=100)
    color = _COLORS.get(comp.kind, "#555")
    for x, p in zip(xs, pts, strict=True):
        alpha = 1.0 if p["decisive"] else 0.45
        low, high = p["low"], p["high"]
        if math.isinf(high):  # "more than …": an open bar upwards
            span = (top - min(finite)) if finite else 1.0
            ax.annotate("", xy=(x, top + 0.12 * (span or abs(top) or 1.0)), xytext=(x, low),
                        arrowprops={"arrowstyle": "->", "color": color, "alpha": alpha, "lw": 2})
        elif high > low:
            ax.plot([x, x], [low, high], color=color, lw=6, alpha=alpha, solid_capstyle="butt")
        ax.plot([x], [p["y"] if not math.isinf(high) else low], "o", color=color, alpha=alpha)
        text = p["label"] + (f" {p['entity']}" if p["entity"] else "")
        ax.annotate(text, (x, p["y"] if not math.isinf(high) else low), textcoords="offset points", xytext=(6, 4),
                    fontsize=8)
    if dated:
        ticks = sorted(set(int(x) for x in xs))
        ax.set_xticks(ticks, [date.fromordinal(t).isoformat() for t in ticks], rotation=20, fontsize=7)
    else:  # some articles carry no date: in reading order, each labelled with its date where known
        ax.set_xticks(xs, [p["label"] + (f"\n{p['date']}" if p["date"] else "") for p in pts], fontsize=7)
    if comp.answer_type == "date":
        yt = ax.get_yticks()
        ax.set_yticks(yt, [date.fromordinal(max(1, int(t))).isoformat() for t in yt], fontsize=7)
    else:
        ax.tick_params(axis="y", labelsize=7)
    ax.set_xlim(min(xs) - 0.8, max(xs) + 1.2)
    bottom = min(finite) if finite else 0.0
    pad = (top - bottom) * 0.12 or abs(top) * 0.1 or 1.0
    ax.set_ylim(bottom - pad, top + 1.5 * pad)  # room for the arrows of open-ended values ("more than …")
    ax.set_title(comp.quantity[:60], fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def disagreement_svg(ans: Answer) -> str:
    """The figure as inline SVG ("" when there is nothing to draw)."""
    fig = disagreement_figure(ans)
    if fig is None:
        return ""
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.find("<svg"):]


def save_disagreement_png(ans: Answer, path: Path) -> bool:
    """Write the figure as PNG; False when there is nothing to draw."""
    fig = disagreement_figure(ans)
    if fig is None:
        return False
    import matplotlib.pyplot as plt

    fig.savefig(path, format="png")
    plt.close(fig)
    return True
