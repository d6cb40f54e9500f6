"""The ``rag`` command line: index, search, ask, eval, serve.

Every command reads one index (``--name``, default ``default`` under ``index/``) and prints human
output or, with ``--json``, machine output. Errors are one line on stderr with exit code 1.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from rag.errors import RagError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="Grounded question answering over news archives.")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("newsrag")
        except PackageNotFoundError:  # running from a source tree that was never installed
            v = "0.1.0"
        typer.echo(f"rag (newsrag) {v}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit")] = False) -> None:
    """Grounded question answering over news archives."""

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="YAML settings file (default configs/default.yaml)")]
NameOpt = Annotated[str | None, typer.Option("--name", "-n", help="Index name under index/ (default: default)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]
DocOpt = Annotated[list[str] | None, typer.Option("--doc", help="Only this document id (repeatable)")]
SourceOpt = Annotated[str | None, typer.Option("--source", help="Only sources containing this text")]
FromOpt = Annotated[str | None, typer.Option("--from", help="Only articles dated on/after YYYY-MM-DD")]
ToOpt = Annotated[str | None, typer.Option("--to", help="Only articles dated on/before YYYY-MM-DD")]


def _settings(config: Path | None, name: str | None, **sections: dict[str, Any]) -> Any:
    from rag.config import load_settings

    over: dict[str, Any] = {k: v for k, v in sections.items() if v}
    if name:
        over.setdefault("index", {})["name"] = name
    return load_settings(config, overrides=over)


def _err(msg: str) -> None:
    sys.stderr.write(f"error: {msg}\n")


def _validate_name(name: str | None) -> None:
    from rag.config import check_index_name

    if name is not None:
        try:
            check_index_name(name)
        except ValueError as exc:
            raise RagError(f"--name {exc}") from None


@app.command("index")
def index_cmd(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders (default: the seeds/ corpus)")] = None,
    name: NameOpt = None,
    config: ConfigOpt = None,
    prune: Annotated[bool, typer.Option("--prune", help="Drop indexed documents not among PATHS")] = False,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Ignore the existing index and build anew")] = False,
    remove: Annotated[list[str] | None, typer.Option("--remove", help="Document id to remove (repeatable)")] = None,
    index_type: Annotated[str | None, typer.Option("--index-type", help="flat | hnsw | ivf | ivfpq")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Embed on N Ray workers (.[ray] extra)")] = None,
    ray_address: Annotated[str | None, typer.Option("--ray-address", help="Join this Ray cluster to embed")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add articles to an index (incremental: unchanged files cost nothing)."""
    _validate_name(name)
    s = _settings(config, name, index={"type": index_type} if index_type else {})
    from rag.indexer import build_index

    inputs: list[Path] | None = list(paths) if paths else None
    if inputs is None and not remove:
        inputs = [Path(s.corpus)]
    report = _with_progress(lambda cb: build_index(s, paths=inputs, prune=prune, rebuild=rebuild,
                                                   remove=remove or (), progress=cb, workers=workers,
                                                   ray_address=ray_address), quiet=as_json)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False))
        return
    from rich.console import Console

    con = Console(stderr=False)
    con.print(f"[bold]{report.index}[/]: {report.documents} documents, {report.chunks} chunks "
              f"(added {len(report.added)}, updated {len(report.updated)}, unchanged {len(report.unchanged)}, "
              f"removed {len(report.removed)}; embedded {report.embedded} texts in {report.seconds:.1f} s)")
    for w in report.warnings:
        sys.stderr.write(f"warning: {w}\n")
    if report.skipped:
        con.print(f"[yellow]skipped {len(report.skipped)} file(s):[/]")
        for path, reason in report.skipped[:50]:
            con.print(f"  {path}: {reason}", markup=False)
        if len(report.skipped) > 50:
            con.print(f"  … and {len(report.skipped) - 50} more")


def _with_progress(fn: Any, quiet: bool = False) -> Any:
    if quiet or not sys.stderr.isatty():
        return fn(None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description:>16}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  transient=True) as prog:
        tasks: dict[str, Any] = {}

        def cb(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = prog.add_task(stage, total=total)
            prog.update(tasks[stage], completed=done, total=total)

        return fn(cb)


def _filters(doc: list[str] | None, source: str | None, date_from: str | None, date_to: str | None,
             language: str | None = None) -> Any:
    from rag.retrieval import Filters

    return Filters(doc_ids=doc or None, source=source, date_from=date_from, date_to=date_to, language=language)


def search_result(query: str, hits: list[Any]) -> dict[str, Any]:
    """The one JSON shape of search results (CLI, --queries lines and the HTTP API): ``{query, hits}``."""
    return {"query": query, "hits": [h.model_dump(mode="json") for h in hits]}


def _stdin_if_dash(value: str, limit: int) -> str:
    """``-`` means: read the text from standard input (at most ``limit`` characters are kept for checks)."""
    if value != "-":
        return value
    data = sys.stdin.read(limit + 1)
    if not data.strip():
        raise RagError("standard input is empty (give the question as an argument or pipe it in)")
    return data


def _read_lines_arg(path: Path, option: str, max_mb: float) -> list[str]:
    """Lines of a file given to an option (``-`` is standard input); regular files only, at most ``max_mb``
    (setting ingest.max_file_mb)."""
    import stat

    limit = int(max_mb * 1024 * 1024)
    if str(path) == "-":
        data = sys.stdin.buffer.read(limit + 1)
    else:
        try:
            st = path.stat()
        except OSError as exc:
            raise RagError(f"{option} {path}: cannot read ({exc.strerror})") from None
        if not stat.S_ISREG(st.st_mode):
            raise RagError(f"{option} {path}: not a regular file (a FIFO, device or folder)")
        try:
            with open(path, "rb") as fh:
                data = fh.read(limit + 1)
        except OSError as exc:
            raise RagError(f"{option} {path}: cannot read ({exc.strerror})") from None
    if len(data) > limit:
        raise RagError(f"{option} {path}: over the {max_mb:g} MB limit (setting ingest.max_file_mb)")
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise RagError(f"{option} {path}: not UTF-8 text (byte {exc.start})") from None


def _check_k(k: int | None) -> None:
    if k is not None and not 1 <= k <= 1000:
        raise RagError(f"-k {k}: must be between 1 and 1000")


@app.command("search")
def search_cmd(
    query: Annotated[str | None, typer.Argument(help="The query ('-' reads it from stdin; or use --queries FILE)")] = None,
    k: Annotated[int | None, typer.Option("-k", help="Number of hits (1-1000)")] = None,
    name: NameOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
    queries: Annotated[Path | None, typer.Option("--queries", help="File with one query per line ('-': stdin); "
                                                              "prints one JSON line {query, hits} per query")] = None,
    doc: DocOpt = None,
    source: SourceOpt = None,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
) -> None:
    """Hybrid search (dense + BM25) over an index."""
    _validate_name(name)
    _check_k(k)
    if query is None and queries is None:
        raise RagError("give a query or --queries FILE")
    s = _settings(config, name)
    from rag.engine import Engine

    filt = _filters(doc, source, date_from, date_to)
    if queries is not None:
        from rag.answer import check_question

        lines = _read_lines_arg(queries, "--queries", s.ingest.max_file_mb)
        engine = Engine(s)
        failed = 0
        for q in lines:
            if not q.strip():
                continue
            try:
                q = check_question(q, s.answer.max_question_chars)
                out = search_result(q, engine.search(q, k=k, filters=filt))
            except RagError as exc:
                failed += 1
                out = {"query": q if len(q) <= 80 else q[:80] + "…", "error": str(exc)}
            typer.echo(json.dumps(out, ensure_ascii=False))
        if failed:
            raise RagError(f"{failed} of {sum(1 for x in lines if x.strip())} queries failed (their lines say why)")
        return
    assert query is not None
    from rag.answer import check_question

    query = check_question(_stdin_if_dash(query, s.answer.max_question_chars), s.answer.max_question_chars)
    engine = Engine(s)
    hits = engine.search(query, k=k, filters=filt)
    if as_json:
        typer.echo(json.dumps(search_result(query, hits), ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(hits)} hits for: {query}", show_lines=True)
    for col in ("#", "score", "document", "date", "passage"):
        table.add_column(col, overflow="fold")
    for h in hits:
        text = h.text if len(h.text) < 400 else h.text[:400] + "…"
        table.add_row(str(h.rank), f"{h.score:.4f}\n({h.dense_score:.3f})", f"{h.title}\n[dim]{h.chunk_id}[/]",
                      h.date or "", text)
    Console().print(table)


@app.command("ask")
def ask_cmd(
    question: Annotated[str, typer.Argument(help="The question (German or English; '-' reads it from stdin)")],
    llm: Annotated[str | None, typer.Option("--llm", help="none (extractive) | ollama | llamacpp")] = None,
    k: Annotated[int | None, typer.Option("-k", help="Passages to retrieve (1-1000)")] = None,
    name: NameOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
    stream: Annotated[bool, typer.Option("--stream", help="Print the answer as it is generated")] = False,
    doc: DocOpt = None,
    source: SourceOpt = None,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
) -> None:
    """Answer a question with citations; flags figures on which the sources disagree."""
    _validate_name(name)
    _check_k(k)
    if llm is not None and llm not in ("none", "ollama", "llamacpp"):
        raise RagError(f"--llm {llm}: choose none, ollama or llamacpp")
    s = _settings(config, name, llm={"backend": llm} if llm else {})
    from rag.answer import ask, check_question
    from rag.engine import Engine

    question = check_question(_stdin_if_dash(question, s.answer.max_question_chars), s.answer.max_question_chars)
    engine = Engine(s)
    on_token = None
    if stream and not as_json:
        def on_token(piece: str) -> None:
            sys.stdout.write(piece)
            sys.stdout.flush()

    ans = ask(engine, question, llm=llm, k=k, filters=_filters(doc, source, date_from, date_to), on_token=on_token)
    if as_json:
        typer.echo(json.dumps(ans.as_dict(), ensure_ascii=False))
        return
    from rag.render import print_answer

    print_answer(ans, streamed=bool(on_token))


@app.command("eval")
def eval_cmd(
    file: Annotated[Path | None, typer.Argument(help="JSONL questions or SQuAD JSON (default: the seed questions)")] = None,
    questions: Annotated[Path | None, typer.Option("--questions", help="SQuAD file whose questions (by id) are asked")] = None,
    corpus: Annotated[list[Path] | None, typer.Option("--corpus", help="Corpus for JSONL questions (default: seeds/)")] = None,
    llm: Annotated[str, typer.Option("--llm", help="none | ollama | llamacpp")] = "none",
    k: Annotated[int, typer.Option("-k", help="Hits scored for retrieval metrics")] = 10,
    limit: Annotated[int | None, typer.Option("--limit", help="Only the first N questions")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write report.md, results.jsonl and metrics.png here")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Evaluate on index/NAME (the dataset's own documents are "
                                                            "added to it) instead of a temporary index")] = None,
    part: Annotated[str, typer.Option("--part", help="all | tune | measure (every fifth RAMDocs question or "
                                                     "SQuAD article)")] = "all",
    variants: Annotated[bool, typer.Option("--variants/--no-variants",
                                           help="RAMDocs: also ask the agreeing variants (must not be flagged)")] = True,
    unanswerable: Annotated[bool, typer.Option("--unanswerable", help="SQuAD/XQuAD: also ask every question with its own "
                                                                      "article hidden (must be refused)")] = False,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Measure retrieval, answers, citations, conflict flags and latency on a question set
    (our JSONL, SQuAD JSON or RAMDocs JSONL)."""
    if llm not in ("none", "ollama", "llamacpp"):
        raise RagError(f"--llm {llm}: choose none, ollama or llamacpp")
    if part not in ("all", "tune", "measure"):
        raise RagError(f"--part {part}: choose all, tune or measure")
    _check_k(k)
    if name is not None:
        _validate_name(name)
    s = _settings(config, None)
    from rag.evaluation import BREAKDOWN_COLUMNS, METRIC_ORDER, load_dataset, run_eval, write_reports

    ds = load_dataset(file, questions, corpus, limit, part=part, variants=variants, unanswerable=unanswerable)
    report = _with_progress(lambda cb: run_eval(s, ds, llm=llm, k=k, progress=(lambda d, t: cb("questions", d, t))
                                                if cb else None, index_name=name), quiet=as_json)
    paths = write_reports(report, out) if out else []
    if as_json:
        typer.echo(json.dumps({k_: v for k_, v in report.items() if k_ != "results"} | {"results": report["results"]},
                              ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"rag eval: {report['dataset']} ({len(ds.questions)} questions, llm={llm})")
    t.add_column("metric")
    t.add_column("value", justify="right")
    for key in METRIC_ORDER:
        if key in report["metrics"]:
            v = report["metrics"][key]
            t.add_row(key, "–" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v)))
    Console().print(t)
    if report.get("breakdown"):
        b = Table(title="by answer type, cause and variants")
        cols = BREAKDOWN_COLUMNS
        b.add_column("slice")
        for c in cols:
            b.add_column(c.replace("conflict_", "conf. ").replace("_", " "), justify="right")
        for key, row in report["breakdown"].items():
            b.add_row(key, *["–" if row.get(c) is None else (f"{row[c]:.3f}" if isinstance(row[c], float) else str(row[c]))
                             for c in cols])
        Console().print(b)
    for p in paths:
        typer.echo(f"wrote {p}")


@app.command("serve")
def serve_cmd(
    name: NameOpt = None,
    config: ConfigOpt = None,
    host: Annotated[str | None, typer.Option("--host", help="Bind address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (default 7860; 0 picks a free one and prints it)")] = None,
    allow_remote: Annotated[bool, typer.Option("--allow-remote", help="Allow a non-loopback --host")] = False,
    llm: Annotated[str | None, typer.Option("--llm", help="Default answer backend: none | ollama | llamacpp")] = None,
    no_ui: Annotated[bool, typer.Option("--no-ui", help="Only the HTTP API")] = False,
) -> None:
    """Start the chat UI (/) and the HTTP API (/api/v1) on one port."""
    _validate_name(name)
    server: dict[str, Any] = {}
    if host:
        server["host"] = host
    if port is not None:
        if not 0 <= port <= 65535:
            raise RagError(f"--port {port}: must be between 0 and 65535")
        server["port"] = port
    s = _settings(config, name, server=server, llm={"backend": llm} if llm else {})
    from rag.server import serve

    serve(s, allow_remote=allow_remote, with_ui=not no_ui)


@app.command("info")
def info_cmd(name: NameOpt = None, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Show what an index holds (documents, chunks, model)."""
    _validate_name(name)
    s = _settings(config, name)
    from rag.store import open_store

    m = open_store(s).read_manifest()
    if as_json:
        typer.echo(json.dumps(m, ensure_ascii=False))
        return
    typer.echo(f"{s.index_path}: {m['counts']['documents']} documents, {m['counts']['chunks']} chunks, "
               f"model {m['model']} ({m['dim']}-d), {m['index_type']} index, updated {m['updated']}")
    for doc_id, d in m["documents"].items():
        typer.echo(f"  {doc_id}  {d.get('date') or '          '}  {d.get('title')}")


def main() -> None:
    """Console entry point: one-line errors, never a traceback (``RAG_DEBUG=1`` shows it)."""
    debug = bool(os.environ.get("RAG_DEBUG"))
    try:
        app(standalone_mode=False)
    except RagError as exc:
        _err(str(exc))
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        _err("interrupted")
        raise SystemExit(130) from None
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence for users
        kind = type(exc).__name__
        if kind == "Exit":  # typer/click's normal exit (e.g. --help)
            raise SystemExit(getattr(exc, "exit_code", 0)) from None
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):  # click usage errors
            _err(exc.format_message())
            raise SystemExit(2) from None
        if kind == "Abort":
            _err("aborted")
            raise SystemExit(130) from None
        if debug:
            raise
        _err(f"unexpected {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
             "(run with RAG_DEBUG=1 for details)")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
