"""Gradio chat UI: ask, see evidence and disagreeing figures at once, manage the corpus.

It depends on the shared :class:`rag.service.Service` and the typed records only (never on the HTTP server),
and streams through the service's one streaming helper."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import gradio as gr

LABELS = {
    "en": {"title": "News archive Q&A", "ask": "Ask", "question": "Your question", "sources": "Sources",
           "figures": "Figures", "settings": "Settings", "corpus": "Corpus", "backend": "Answer with",
           "k": "Passages", "source": "Source contains", "from": "From (YYYY-MM-DD)", "to": "To (YYYY-MM-DD)",
           "upload": "Upload articles (.txt, .md, .html)", "paste": "Or paste an article", "name": "File name",
           "add": "Add to corpus", "remove": "Remove document", "status": "Index", "lang": "Language",
           "value": "Figure", "what": "What", "who": "Who says so", "when": "When", "src": "Source",
           "open": "open article", "no_figs": "No figures for this question.", "placeholder": "Ask about the news…",
           "ollama_model": "Ollama model", "doc_language": "Article language",
           "replace": "Replace a document with the same name"},
    "de": {"title": "Fragen an das Nachrichtenarchiv", "ask": "Fragen", "question": "Ihre Frage", "sources": "Quellen",
           "figures": "Zahlen", "settings": "Einstellungen", "corpus": "Korpus", "backend": "Antworten mit",
           "k": "Passagen", "source": "Quelle enthält", "from": "Von (JJJJ-MM-TT)", "to": "Bis (JJJJ-MM-TT)",
           "upload": "Artikel hochladen (.txt, .md, .html)", "paste": "Oder Artikel einfügen", "name": "Dateiname",
           "add": "Zum Korpus hinzufügen", "remove": "Dokument entfernen", "status": "Index", "lang": "Sprache",
           "value": "Zahl", "what": "Was", "who": "Laut", "when": "Wann", "src": "Quelle",
           "open": "Artikel öffnen", "no_figs": "Keine Zahlen zu dieser Frage.", "placeholder": "Fragen Sie zu den Nachrichten…",
           "ollama_model": "Ollama-Modell", "doc_language": "Artikelsprache",
           "replace": "Dokument gleichen Namens ersetzen"},
}
CSS = """
.flag {background:#fdecea;border-left:4px solid #c0392b;padding:8px 12px;margin:6px 0;border-radius:4px;color:#7b241c}
.ev {border:1px solid #ddd;border-radius:6px;padding:8px;margin:6px 0;font-size:0.92em}
.ev mark {background:#fff3b0}
.ev .meta {color:#555;font-size:0.85em}
table.figs {border-collapse:collapse;width:100%;font-size:0.85em;table-layout:fixed;word-break:break-word}
table.figs td, table.figs th {border:none;border-bottom:1px solid #eee;padding:3px 5px;text-align:left;vertical-align:top}
.cite {color:#1f5fa8;font-weight:600;cursor:help;text-decoration:underline dotted}
.chart svg {width:100%;height:auto;max-width:460px}
@media (max-width: 700px) { .side {min-width:100% !important} }
"""


def _cite_html(text: str, evidence: list[dict[str, Any]]) -> str:
    """Answer text with [n] markers turned into hoverable links to the sources panel."""
    by_n = {e["n"]: e for e in evidence}

    def repl(m: re.Match[str]) -> str:
        n = int(m.group(1))
        e = by_n.get(n)
        if not e:
            return m.group(0)
        tip = html.escape(f"{e['title']} ({e['date'] or 'n.d.'}): {e['quote']}", quote=True)
        return f'<a class="cite" href="#ev-{n}" title="{tip}">[{n}]</a>'

    return re.sub(r"\[(\d+)\]", repl, html.escape(text, quote=False))


def sources_html(ans: dict[str, Any], docs: dict[str, Any], lang: str) -> str:
    lab = LABELS[lang]
    cited = {c["n"] for c in ans.get("citations", [])} or {e["n"] for e in ans.get("evidence", [])}
    parts = []
    for e in ans.get("evidence", []):
        doc = docs.get(e["doc_id"])
        text = doc.text if doc else e["quote"]
        chunk = text[e["chunk_start"]:e["chunk_end"]]
        a, b = e["start"] - e["chunk_start"], e["end"] - e["chunk_start"]
        body = html.escape(chunk[:a]) + "<mark>" + html.escape(chunk[a:b]) + "</mark>" + html.escape(chunk[b:])
        src = f" · {html.escape(doc.source)}" if doc and doc.source else ""
        opacity = "" if e["n"] in cited else ' style="opacity:0.6"'
        parts.append(
            f'<div class="ev" id="ev-{e["n"]}"{opacity}><b>[{e["n"]}] {html.escape(e["title"])}</b>'
            f'<div class="meta">{html.escape(e["date"] or "n.d.")}{src} · {html.escape(e["doc_id"])} · '
            f'<a href="/api/v1/documents/{html.escape(e["doc_id"])}/view?start={e["start"]}&end={e["end"]}#passage" '
            f'target="_blank" rel="noopener" class="open-article">{lab["open"]} ({e["start"]}–{e["end"]})</a></div>'
            f"<div>{body}</div></div>")
    return "\n".join(parts) or "<i>–</i>"


def figures_html(ans: dict[str, Any], lang: str, chart: str = "") -> str:
    """The flag, a small chart of the differing values (inline SVG) and a table of what each source states
    (value, entity, who says so, date, citation)."""
    lab = LABELS[lang]
    out = []
    if ans.get("flag"):
        out.append(f'<div class="flag">⚠ {html.escape(ans["flag"])}</div>')
    if chart:
        out.append(f'<div class="chart" id="disagreement-chart">{chart}</div>')
    what = (ans.get("comparison") or {}).get("quantity", "")
    rows = []
    for r in ans.get("readings", []):
        if not r.get("says") or not r.get("value"):
            continue
        n = r.get("citation")
        label = f" ({html.escape(r['entity_label'])})" if r.get("entity_label") else ""
        rows.append(f"<tr><td><b>{html.escape(r['value']['display'])}</b></td><td>{html.escape(what)}{label}</td>"
                    f"<td>{html.escape(r.get('attributed_to') or '–')}</td>"
                    f"<td>{html.escape(r.get('date') or '–')}</td>"
                    f"<td>{'[' + str(n) + '] ' if n else ''}{html.escape((r.get('title') or r['doc_id'])[:48])}</td></tr>")
    if rows:
        out.append(f'<table class="figs"><tr><th>{lab["value"]}</th><th>{lab["what"]}</th><th>{lab["who"]}</th>'
                   f'<th>{lab["when"]}</th><th>{lab["src"]}</th></tr>{"".join(rows)}</table>')
    return "\n".join(out) or f"<i>{lab['no_figs']}</i>"


def statements_html(ans: dict[str, Any], lang: str) -> str:
    """The LLM's sentences, each marked as passing the checks (✓) or not (✗, with the reason)."""
    sts = ans.get("statements") or []
    if not sts:
        return ""
    from rag.messages import t
    from rag.validate import cite_marks

    head, moved = t(lang, "statements_head"), t(lang, "citation_moved")

    def note(st: dict[str, Any]) -> str:
        if st["problems"]:
            return f' <small>({html.escape("; ".join(st["problems"]))})</small>'
        if st.get("recited_from"):
            refs = f'{cite_marks(st["recited_from"])} → {cite_marks(st["cites"])}'
            return f" <small>({moved}: {refs})</small>"
        return ""

    items = "".join(
        f'<li class="{"ok" if st["ok"] else "bad"}">{"✓" if st["ok"] else "✗"} {html.escape(st["text"])}{note(st)}</li>'
        for st in sts)
    return f'\n\n<details class="statements"><summary>{head}</summary><ul>{items}</ul></details>'


def _chart(ans: Any) -> str:
    from rag.charts import disagreement_svg

    try:
        return disagreement_svg(ans)
    except Exception:  # noqa: BLE001 - a chart is never worth failing an answer
        return ""


def build_ui(service: Any) -> gr.Blocks:
    """The chat page. ``service`` is :class:`rag.service.Service` (engine, settings, corpus operations)."""
    from rag.api_models import AskIn, FiltersIn

    def status_text(backend: str | None = None, model: str | None = None) -> str:
        from rag.errors import LLMError
        from rag.llm import ChatBackend

        st = service.engine.status()
        llm = service.settings.llm.model_copy(update={"backend": backend or service.settings.llm.backend,
                                                       **({"ollama_model": model} if model else {})})
        reach = ""
        if llm.backend != "none":
            try:
                ChatBackend(llm).check()
                reach = " ✓ reachable"
            except LLMError as exc:
                reach = f" ✗ {exc}"
        return (f"**Index:** {st['documents']} documents · {st['chunks']} chunks · {st['model']} · {st['index_type']}  \n"
                f"**LLM:** {llm.backend}" + (f" ({llm.ollama_model} @ {llm.ollama_host})" if llm.backend == "ollama" else "")
                + reach)

    def doc_choices() -> list[tuple[str, str]]:
        return [(f"{d['title'][:60]} ({k})", k) for k, d in service.engine.manifest["documents"].items()]

    def respond(question: str, history: list[dict[str, Any]], backend: str, k: int, source: str, dfrom: str, dto: str,
                lang: str, model: str, doc_lang: str) -> Iterator[tuple[Any, ...]]:
        history = list(history or [])
        q = (question or "").strip()
        if not q:
            yield history, gr.update(), gr.update(), ""
            return
        history.append({"role": "user", "content": q})
        history.append({"role": "assistant", "content": "…"})
        yield history, gr.update(), gr.update(), ""
        try:
            body = AskIn(question=q[:2000], llm=backend, k=int(k), ollama_model=(model or None) if backend == "ollama" else None,
                         filters=FiltersIn(source=source or None, date_from=dfrom or None, date_to=dto or None,
                                           language=None if doc_lang in ("", "any") else doc_lang))
        except Exception as exc:  # noqa: BLE001 - validation message for the user
            history[-1] = {"role": "assistant", "content": f"⚠ {html.escape(str(exc).splitlines()[-1])}"}
            yield history, gr.update(), gr.update(), ""
            return
        text = ""
        partial: dict[str, Any] = {}
        docs = service.engine.retriever.data.documents
        for ev in service.stream(body):  # the model field is this request's own: nobody else's answer changes
            if ev.type == "evidence" and ev.answer is not None:
                partial = ev.answer.as_dict()
                yield history, sources_html(partial, docs, lang), figures_html(partial, lang, _chart(ev.answer)), ""
            elif ev.type == "token":
                text += ev.text
                history[-1] = {"role": "assistant", "content": _cite_html(text, partial.get("evidence", []))}
                yield history, gr.update(), gr.update(), ""
            elif ev.type == "final" and ev.answer is not None:
                val = ev.answer.as_dict()
                content = _cite_html(val["answer"], val["evidence"])
                if val["notices"]:
                    content += "\n\n<small>" + html.escape(" ".join(val["notices"])) + "</small>"
                content += statements_html(val, lang)
                history[-1] = {"role": "assistant", "content": content}
                yield history, sources_html(val, docs, lang), figures_html(val, lang, _chart(ev.answer)), ""
                return
            elif ev.type == "error":
                history[-1] = {"role": "assistant", "content": f"⚠ {html.escape(ev.text)}"}
                yield history, gr.update(), gr.update(), ""
                return

    def add_files(files: list[Any] | None, name: str, text: str, replace: bool = False,
                  progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        msgs = []
        items: list[tuple[str, bytes]] = []
        for f in files or []:
            path = getattr(f, "name", f)
            with open(path, "rb") as fh:
                items.append((str(path).rsplit("/", 1)[-1], fh.read()))
        if text and text.strip():
            items.append(((name or "pasted").strip() or "pasted", text.encode("utf-8")))
        for fname, data in progress.tqdm(items, desc="indexing"):
            try:
                r = service.add_file(fname, data, replace=bool(replace))
                done = "replaced" if r["replaced"] else "added"
                msgs.append(f"✓ {r['file']} → {r['doc_id']} {done} ({r['chunks']} chunks in index)")
                msgs.extend(f"  ⚠ {w}" for w in r["warnings"])
            except Exception as exc:  # noqa: BLE001
                msgs.append(f"✗ {fname}: {str(exc).splitlines()[0]}")
        return "\n".join(msgs) or "nothing to add", status_text(), gr.update(choices=doc_choices(), value=None)

    def remove_doc(doc_id: str | None) -> tuple[Any, ...]:
        if not doc_id:
            return "choose a document", status_text(), gr.update()
        try:
            service.remove(doc_id)
            msg = f"removed {doc_id}"
        except Exception as exc:  # noqa: BLE001
            msg = f"✗ {exc}"
        return msg, status_text(), gr.update(choices=doc_choices(), value=None)

    def relabel(lang: str) -> tuple[Any, ...]:
        lab = LABELS[lang]
        return (gr.update(value=f"## {lab['title']}"), gr.update(label=lab["question"], placeholder=lab["placeholder"]),
                gr.update(value=lab["ask"]), gr.update(label=lab["backend"]), gr.update(label=lab["k"]),
                gr.update(label=lab["source"]), gr.update(label=lab["from"]), gr.update(label=lab["to"]),
                gr.update(label=lab["upload"]), gr.update(label=lab["paste"]), gr.update(label=lab["name"]),
                gr.update(value=lab["add"]), gr.update(value=lab["remove"]))

    lab = LABELS["en"]
    with gr.Blocks(title="newsrag") as demo:
        heading = gr.Markdown(f"## {lab['title']}")
        with gr.Row():
            with gr.Column(scale=3, min_width=320):
                chat = gr.Chatbot(label="", height=460, elem_id="chat", sanitize_html=True)
                with gr.Row():
                    box = gr.Textbox(label=lab["question"], placeholder=lab["placeholder"], scale=5, elem_id="question")
                    ask_btn = gr.Button(lab["ask"], variant="primary", scale=1, elem_id="ask")
                if service.settings.server.examples:
                    gr.Examples(service.settings.server.examples, inputs=box)
            with gr.Column(scale=2, min_width=300, elem_classes="side"):
                with gr.Tab(lab["figures"], elem_id="tab-figures"):
                    figs = gr.HTML("<i>–</i>", elem_id="figures")
                with gr.Tab(lab["sources"], elem_id="tab-sources"):
                    srcs = gr.HTML("<i>–</i>", elem_id="sources")
                with gr.Tab(lab["settings"]):
                    lang = gr.Radio(["en", "de"], value="en", label="Language / Sprache", elem_id="lang")
                    backend = gr.Radio(["none", "ollama", "llamacpp"], value=service.settings.llm.backend,
                                       label=lab["backend"])
                    k = gr.Slider(1, 20, value=service.settings.retrieval.k, step=1, label=lab["k"])
                    source = gr.Textbox(label=lab["source"])
                    dfrom = gr.Textbox(label=lab["from"])
                    dto = gr.Textbox(label=lab["to"])
                    ollama_model = gr.Textbox(label=lab["ollama_model"], value=service.settings.llm.ollama_model)
                    doc_lang = gr.Dropdown(["any", "de", "en"], value="any", label=lab["doc_language"])
                    status = gr.Markdown(status_text(), elem_id="status")
                with gr.Tab(lab["corpus"]):
                    files = gr.File(label=lab["upload"], file_count="multiple", file_types=[".txt", ".md", ".html", ".htm"])
                    paste = gr.Textbox(label=lab["paste"], lines=5)
                    pname = gr.Textbox(label=lab["name"], value="pasted-article.txt")
                    replace_cb = gr.Checkbox(label=lab["replace"], value=False)
                    add_btn = gr.Button(lab["add"])
                    docs_dd = gr.Dropdown(choices=doc_choices(), label=lab["remove"])
                    rm_btn = gr.Button(lab["remove"])
                    corpus_msg = gr.Textbox(label="", interactive=False, lines=3)
        inputs = [box, chat, backend, k, source, dfrom, dto, lang, ollama_model, doc_lang]
        backend.change(status_text, [backend, ollama_model], [status])
        outputs = [chat, srcs, figs, box]
        ask_btn.click(respond, inputs, outputs)
        box.submit(respond, inputs, outputs)
        add_btn.click(add_files, [files, pname, paste, replace_cb], [corpus_msg, status, docs_dd])
        rm_btn.click(remove_doc, [docs_dd], [corpus_msg, status, docs_dd])
        lang.change(relabel, [lang], [heading, box, ask_btn, backend, k, source, dfrom, dto, files, paste, pname, add_btn,
                                      rm_btn])
        demo.load(None, None, [lang], js="() => (navigator.language || 'en').toLowerCase().startsWith('de') ? 'de' : 'en'")
    return demo
