"""The hostile-input matrix: what an attacker or a careless user sends, against the real CLI and the real server.

Each CLI row must end with exit code 1 (2 for usage errors) and one line on stderr naming the file, field or
setting, never a traceback; each HTTP row must answer its status in the one error shape, never a 500. Rows
that must succeed say what they must do instead. Also: readers never see a half-written index while another
process re-indexes (and is killed) over and over.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import SEEDS

ROOT = Path(__file__).parents[1]
SEED_IDS = sorted(p.stem for p in SEEDS.glob("*.txt"))


# ---------------------------------------------------------------- the CLI

@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A built seeds index and the files the rows need."""
    tmp = tmp_path_factory.mktemp("hostile")
    cfg = tmp / "c.yaml"
    cfg.write_text(f"index:\n  root: {tmp / 'index'}\ningest:\n  max_file_mb: 1\n", encoding="utf-8")
    p = _cli("index", str(SEEDS), "--config", str(cfg))
    assert p.returncode == 0, p.stderr
    os.mkfifo(tmp / "fifo.txt")
    (tmp / "zero.txt").symlink_to("/dev/zero")
    (tmp / "long_line.txt").write_text("Soldaten " * 55_000 + "\nKursk\n", encoding="utf-8")  # one 500 kB line
    (tmp / "nul_line.txt").write_bytes(b"Kursk\n\x00\x00\x00\n")
    (tmp / "big.txt").write_bytes(b"Ein Satz. " * 200_000)  # 2 MB, over the 1 MB limit of this config
    (tmp / "only_fifo").mkdir()
    os.mkfifo(tmp / "only_fifo" / "pipe.txt")
    (tmp / "only_big").mkdir()
    shutil.copy(tmp / "big.txt", tmp / "only_big" / "big.txt")
    (tmp / "bad.yaml").write_text("retrieval:\n  k: [1,\n", encoding="utf-8")
    (tmp / "unknown.yaml").write_text("retrieval:\n  kk: 3\n", encoding="utf-8")
    (tmp / "name.yaml").write_text("index:\n  name: ../../escape\n", encoding="utf-8")
    (tmp / "squad.json").write_text(json.dumps({"data": [{"paragraphs": [{"context": "x", "qas": [{"id": "1"}]}]}]}))
    (tmp / "q.jsonl").write_text('{"question": "ok?"}\n{"question": broken}\n', encoding="utf-8")
    (tmp / "ramdocs.jsonl").write_text(json.dumps({"question": "q?", "documents": [{"text": 3}], "gold_answers": []}) + "\n")
    return tmp, cfg


def _cli(*args: str, stdin: str | None = None, extra_env: dict | None = None, timeout: int = 300):
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout, input=stdin, env={**os.environ, **(extra_env or {})})


# (id, arguments with {tmp} and {cfg}, environment, stdin, expected text in the one error line)
CLI_ROWS = [
    ("empty-question", ["search", "", "--config", "{cfg}"], None, None, "the question is empty"),
    ("punctuation-question", ["search", "?!…", "--config", "{cfg}"], None, None, "the question is empty"),
    ("huge-question", ["search", "x" * 3000, "--config", "{cfg}"], None, None, "over the limit of 2000"),
    ("nul-question", ["ask", "\u2028\u200b", "--config", "{cfg}"], None, None, "the question is empty"),
    ("k-zero", ["search", "Kursk", "-k", "0", "--config", "{cfg}"], None, None, "-k 0: must be between 1 and 1000"),
    ("k-huge", ["search", "Kursk", "-k", "5000", "--config", "{cfg}"], None, None, "must be between 1 and 1000"),
    ("k-text", ["search", "Kursk", "-k", "many"], None, None, "Invalid value for '-k'"),
    ("queries-fifo", ["search", "--queries", "{tmp}/fifo.txt", "--config", "{cfg}"], None, None, "not a regular file"),
    ("queries-dev-zero", ["search", "--queries", "{tmp}/zero.txt", "--config", "{cfg}"], None, None, "not a regular file"),
    ("queries-missing", ["search", "--queries", "{tmp}/nope.txt", "--config", "{cfg}"], None, None, "cannot read"),
    ("queries-long-line", ["search", "--queries", "{tmp}/long_line.txt", "--config", "{cfg}"], None, None,
     "1 of 2 queries failed"),
    ("queries-nul-line", ["search", "--queries", "{tmp}/nul_line.txt", "--config", "{cfg}"], None, None,
     "1 of 2 queries failed"),
    ("queries-over-size", ["search", "--queries", "{tmp}/big.txt", "--config", "{cfg}"], None, None,
     "over the 1 MB limit (setting ingest.max_file_mb)"),
    ("bad-date-filter", ["search", "Kursk", "--from", "someday", "--config", "{cfg}"], None, None, "filter 'date_from'"),
    ("unknown-doc-filter", ["search", "Kursk", "--doc", "nope", "--config", "{cfg}"], None, None, "unknown document id"),
    ("ask-bad-llm", ["ask", "Kursk?", "--llm", "gpt", "--config", "{cfg}"], None, None, "choose none, ollama or llamacpp"),
    ("ask-empty-stdin", ["ask", "-", "--config", "{cfg}"], None, "", "standard input is empty"),
    ("ask-huge-stdin", ["ask", "-", "--config", "{cfg}"], None, "y" * 5000, "over the limit of 2000"),
    ("index-missing-path", ["index", "{tmp}/missing", "--config", "{cfg}", "--name", "other"], None, None,
     "no such file or folder"),
    ("index-only-fifo", ["index", "{tmp}/only_fifo", "--config", "{cfg}", "--name", "fifo"], None, None,
     "pipe.txt: not a regular file"),
    ("index-only-too-big", ["index", "{tmp}/only_big", "--config", "{cfg}", "--name", "big"], None, None,
     "big.txt: file is 1.9 MB, over the 1 MB limit"),
    ("index-dev-zero-link", ["index", "{tmp}/zero.txt", "--config", "{cfg}", "--name", "zero"], None, None,
     "zero.txt: not a regular file"),
    ("remove-unknown", ["index", "--remove", "nope", "--config", "{cfg}"], None, None, "cannot remove unknown document id"),
    ("name-traversal", ["index", "--name", "../x", "--config", "{cfg}"], None, None, "--name '../x' is not a plain folder"),
    ("name-hidden", ["info", "--name", ".hidden", "--config", "{cfg}"], None, None, "is not a plain folder name"),
    ("info-missing-index", ["info", "--name", "never", "--config", "{cfg}"], None, None, "no index at"),
    ("env-unknown", ["info", "--config", "{cfg}"], {"RAG_FOO": "1"}, None, "environment variable RAG_FOO"),
    ("env-typo", ["info", "--config", "{cfg}"], {"RAG_LLM_BACKEND": "ollama"}, None, "did you mean RAG_LLM__BACKEND"),
    ("env-unknown-key", ["info", "--config", "{cfg}"], {"RAG_RETRIEVAL__KK": "1"}, None,
     "environment variable RAG_RETRIEVAL__KK: unknown setting 'retrieval.kk'"),
    ("env-bad-value", ["info", "--config", "{cfg}"], {"RAG_RETRIEVAL__K": "abc"}, None,
     "environment variable RAG_RETRIEVAL__K: setting 'retrieval.k'"),
    ("env-name-traversal", ["info", "--config", "{cfg}"], {"RAG_INDEX__NAME": "../../x"}, None,
     "environment variable RAG_INDEX__NAME: setting 'index.name'"),
    ("yaml-malformed", ["info", "--config", "{tmp}/bad.yaml"], None, None, "bad.yaml line"),
    ("yaml-unknown", ["info", "--config", "{tmp}/unknown.yaml"], None, None, "unknown setting 'retrieval.kk'"),
    ("yaml-name-traversal", ["info", "--config", "{tmp}/name.yaml"], None, None, "name.yaml: setting 'index.name'"),
    ("config-missing", ["info", "--config", "{tmp}/none.yaml"], None, None, "none.yaml does not exist"),
    ("eval-bad-squad", ["eval", "{tmp}/squad.json"], None, None, "squad.json: not SQuAD v1.1 JSON"),
    ("eval-bad-jsonl", ["eval", "{tmp}/q.jsonl"], None, None, "q.jsonl line 2: not valid JSON"),
    ("eval-bad-ramdocs", ["eval", "{tmp}/ramdocs.jsonl"], None, None, "line 1: not a RAMDocs record"),
    ("eval-bad-part", ["eval", "--part", "half"], None, None, "--part half: choose all, tune or measure"),
    ("eval-missing", ["eval", "{tmp}/none.jsonl"], None, None, "none.jsonl: no such file"),
    ("serve-bad-port", ["serve", "--port", "99999", "--config", "{cfg}"], None, None, "--port 99999"),
    ("serve-remote", ["serve", "--host", "0.0.0.0", "--config", "{cfg}"], None, None, "--allow-remote"),
    ("unknown-option", ["search", "Kursk", "--frobnicate"], None, None, "No such option"),
]


@pytest.mark.parametrize("row", CLI_ROWS, ids=[r[0] for r in CLI_ROWS])
def test_cli_matrix(env, row):
    tmp, cfg = env
    _, args, extra, stdin, want = row
    p = _cli(*[a.format(tmp=tmp, cfg=cfg) for a in args], stdin=stdin, extra_env=extra)
    errors = [line for line in p.stderr.splitlines() if line.startswith("error:")]
    assert p.returncode in (1, 2), (p.returncode, p.stdout[-300:], p.stderr[-500:])
    assert "Traceback" not in p.stderr and len(errors) == 1, p.stderr
    assert want in errors[0], errors[0]


def test_queries_file_lines_say_which_query_failed(env):
    tmp, cfg = env
    p = _cli("search", "--queries", str(tmp / "nul_line.txt"), "--config", str(cfg), "-k", "1")
    lines = [json.loads(x) for x in p.stdout.splitlines()]
    assert [("hits" in x, "error" in x) for x in lines] == [(True, False), (False, True)]
    assert lines[0]["query"] == "Kursk" and "empty" in lines[1]["error"]


def test_broken_indexes_name_the_file_and_the_fix(env):
    tmp, cfg = env
    for name, breaker, want in [
        ("faiss", lambda g: (g / "chunks.faiss").write_bytes(b"garbage"), "corrupt FAISS file"),
        ("manifest", lambda g: (g / "manifest.json").write_text("{trunc"), "manifest.json: unreadable or corrupt"),
        ("owner", lambda g: _bad_owner(g), "sentence records point outside the chunks"),
        ("current", lambda g: (g.parent / "CURRENT").write_text("gen-missing\n"), "points to a missing generation"),
    ]:
        idx = tmp / "index" / name
        shutil.copytree(tmp / "index" / "default", idx)
        gen = idx / (idx / "CURRENT").read_text().strip()
        breaker(gen)
        p = _cli("search", "Kursk", "--config", str(cfg), "--name", name)
        assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
        assert want in p.stderr and "rag index --rebuild" in p.stderr, (name, p.stderr)


def _bad_owner(gen: Path) -> None:
    import numpy as np

    owner = np.load(gen / "sentence_owner.npy")
    owner[-1] = 10_000
    np.save(gen / "sentence_owner.npy", owner)


def test_corrupt_embedding_cache_is_set_aside_and_rebuilt(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    shutil.copy(SEEDS / f"{SEED_IDS[0]}.txt", corpus)
    cache = tmp_path / "cache.sqlite"
    cache.write_bytes(b"this is not a database" * 100)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"index:\n  root: {tmp_path / 'index'}\nembedding:\n  cache_path: {cache}\n", encoding="utf-8")
    env = {"RAG_EMBEDDING__CACHE_PATH": str(cache)}  # the file named in the config, not the session's cache
    p = _cli("index", str(corpus), "--config", str(cfg), extra_env=env)
    assert p.returncode == 0 and "warning:" in p.stderr and "embedding cache unreadable" in p.stderr, p.stderr
    assert list(tmp_path.glob("cache.sqlite.corrupt-*"))  # set aside, not deleted
    p = _cli("index", str(corpus), "--config", str(cfg), "--rebuild", "--json", extra_env=env)
    assert p.returncode == 0 and json.loads(p.stdout)["embedded"] == 0  # the new cache works


def test_serve_never_writes_into_a_broken_index(env, tmp_path):
    """A corrupt index with an empty corpus folder: the server refuses to start and leaves the index alone."""
    src, _ = env
    idx_root = tmp_path / "index"
    shutil.copytree(src / "index" / "default", idx_root / "news")
    gen = idx_root / "news" / (idx_root / "news" / "CURRENT").read_text().strip()
    (gen / "chunks.faiss").write_bytes(b"garbage")
    before = sorted((p.name, p.stat().st_size) for p in (idx_root / "news").rglob("*"))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"corpus: {SEEDS}\nindex:\n  root: {idx_root}\nserver:\n  corpus_dir: {tmp_path / 'corpus'}\n",
                   encoding="utf-8")
    p = _cli("serve", "--config", str(cfg), "--name", "news", "--port", "0", "--no-ui", timeout=120)
    assert p.returncode == 1 and "corrupt FAISS file" in p.stderr and "Traceback" not in p.stderr, p.stderr
    assert sorted((p.name, p.stat().st_size) for p in (idx_root / "news").rglob("*")) == before


def test_serve_port_zero_binds_a_free_port_and_says_which(env, tmp_path):
    src, _ = env
    cfg = tmp_path / "c.yaml"
    shutil.copytree(src / "index" / "default", tmp_path / "index" / "default")
    cfg.write_text(f"index:\n  root: {tmp_path / 'index'}\nserver:\n  corpus_dir: {tmp_path / 'corpus'}\n",
                   encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--config", str(cfg), "--port", "0", "--no-ui"],
                            cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert line.startswith("serving http://127.0.0.1:"), line
        port = int(line.split(":")[2].split("/")[0])
        assert port not in (0, 7860)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).json()["documents"] == 5
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail("the server on the printed port did not answer")
    finally:
        proc.terminate()
        proc.wait(10)


# ---------------------------------------------------------------- the server

# `server` (the real server on 127.0.0.1, one per module) comes from conftest.py


def _chunked(n_bytes: int, piece: int = 65536):
    sent = 0
    while sent < n_bytes:
        yield b"a" * min(piece, n_bytes - sent)
        sent += piece


# (id, method, path, keyword arguments for httpx, expected status, expected error code, text in the message or field)
HTTP_ROWS = [
    ("lone-surrogate", "POST", "/api/v1/search", {"content": b'{"query": "Soldaten \\ud800"}',
                                                  "headers": {"content-type": "application/json"}}, 422,
     "invalid_request", "surrogate"),
    ("search-empty-body", "POST", "/api/v1/search", {"json": {}}, 422, "invalid_request", "query"),
    ("search-not-json", "POST", "/api/v1/search", {"content": b"{nope", "headers": {"content-type": "application/json"}},
     400, "invalid_request", "not valid JSON"),
    ("search-k-zero", "POST", "/api/v1/search", {"json": {"query": "Kursk", "k": 0}}, 422, "invalid_request", "k"),
    ("search-k-string", "POST", "/api/v1/search", {"json": {"query": "Kursk", "k": "many"}}, 422, "invalid_request", "k"),
    ("search-extra-field", "POST", "/api/v1/search", {"json": {"query": "Kursk", "kk": 3}}, 422, "invalid_request", "kk"),
    ("search-query-list", "POST", "/api/v1/search", {"json": {"query": ["a"]}}, 422, "invalid_request", "query"),
    ("search-nul-query", "POST", "/api/v1/search", {"json": {"query": "\u0000\u0000"}}, 422, "invalid_request", "query"),
    ("search-bad-date", "POST", "/api/v1/search", {"json": {"query": "Kursk", "filters": {"date_from": "someday"}}}, 422,
     "invalid_request", "date_from"),
    ("search-unknown-doc", "POST", "/api/v1/search", {"json": {"query": "Kursk", "filters": {"doc_ids": ["nope"]}}}, 404,
     "not_found", "unknown document id"),
    ("search-get", "GET", "/api/v1/search", {}, 405, "method_not_allowed", "use POST"),
    ("unknown-route", "GET", "/api/v1/nope", {}, 404, "not_found", "/api/v1/nope"),
    ("search-chunked-1mb", "POST", "/api/v1/search", {"content": _chunked(1_000_000),
                                                      "headers": {"content-type": "application/json"}}, 413,
     "payload_too_large", "over the limit"),
    ("search-declared-1mb", "POST", "/api/v1/search", {"content": b"a" * 1_000_000,
                                                       "headers": {"content-type": "application/json"}}, 413,
     "payload_too_large", "over the limit"),
    ("ask-too-long", "POST", "/api/v1/ask", {"json": {"question": "x" * 2001}}, 422, "invalid_request", "question"),
    ("ask-bad-llm", "POST", "/api/v1/ask", {"json": {"question": "Kursk?", "llm": "gpt"}}, 422, "invalid_request", "llm"),
    ("ask-k-huge", "POST", "/api/v1/ask", {"json": {"question": "Kursk?", "k": 10_000}}, 422, "invalid_request", "k"),
    ("ask-stream-empty", "POST", "/api/v1/ask/stream", {"json": {"question": ""}}, 422, "invalid_request", "question"),
    ("docs-json-empty", "POST", "/api/v1/documents", {"json": {}}, 422, "invalid_request", "name"),
    ("docs-json-no-text", "POST", "/api/v1/documents", {"json": {"name": "a.txt"}}, 422, "invalid_request", "text"),
    ("docs-json-broken", "POST", "/api/v1/documents", {"content": b'{"name": ', "headers": {"content-type":
                                                                                           "application/json"}}, 400,
     "invalid_request", "not valid JSON"),
    ("docs-json-array", "POST", "/api/v1/documents", {"json": ["a"]}, 422, "invalid_request", ""),
    ("docs-plain-text", "POST", "/api/v1/documents", {"content": b"hello", "headers": {"content-type": "text/plain"}},
     415, "invalid_request", "multipart"),
    ("docs-form-empty", "POST", "/api/v1/documents", {"data": {"x": "1"}}, 422, "invalid_request", "file"),
    ("docs-binary", "POST", "/api/v1/documents", {"files": {"file": ("x.txt", b"\x89PNG\r\n\x1a\n\0\0", "text/plain")}},
     400, "invalid_request", "binary"),
    ("docs-empty-file", "POST", "/api/v1/documents", {"files": {"file": ("e.txt", b"", "text/plain")}}, 400,
     "invalid_request", "empty"),
    ("docs-dot-name", "POST", "/api/v1/documents", {"files": {"file": ("...", b"Titel\n\nText.", "text/plain")}}, 400,
     "invalid_request", "not usable"),
    ("docs-collides-with-seed", "POST", "/api/v1/documents",
     {"files": {"file": (f"{SEED_IDS[2]}.txt", b"Ersatz\n\nEin anderer Text.", "text/plain")}}, 409, "conflict",
     SEED_IDS[2]),
    ("docs-chunked-9mb", "POST", "/api/v1/documents", {"content": _chunked(9_000_000),
                                                       "headers": {"content-type": "application/json"}}, 413,
     "payload_too_large", "over the limit"),
    ("docs-limit-zero", "GET", "/api/v1/documents", {"params": {"limit": 0}}, 422, "invalid_request", "limit"),
    ("docs-limit-huge", "GET", "/api/v1/documents", {"params": {"limit": 100_000}}, 422, "invalid_request", "limit"),
    ("docs-offset-negative", "GET", "/api/v1/documents", {"params": {"offset": -1}}, 422, "invalid_request", "offset"),
    ("delete-unknown", "DELETE", "/api/v1/documents/nope", {}, 404, "not_found", "nope"),
    ("delete-traversal", "DELETE", "/api/v1/documents/..%2F..%2Fetc", {}, 404, "not_found", ""),
    ("view-unknown", "GET", "/api/v1/documents/nope/view", {}, 404, "not_found", "nope"),
    ("chat-no-user", "POST", "/v1/chat/completions", {"json": {"model": "newsrag", "messages": [
        {"role": "system", "content": "hi"}]}}, 422, "invalid_request", "messages"),
    ("chat-unknown-model", "POST", "/v1/chat/completions", {"json": {"model": "gpt-9", "messages": [
        {"role": "user", "content": "Kursk?"}]}}, 404, "not_found", "model"),
    ("chat-no-messages", "POST", "/v1/chat/completions", {"json": {"model": "newsrag", "messages": []}}, 422,
     "invalid_request", "messages"),
]


@pytest.mark.parametrize("row", HTTP_ROWS, ids=[r[0] for r in HTTP_ROWS])
def test_http_matrix(server, row):
    url, _ = server
    _, method, path, kw, status, code, want = row
    r = httpx.request(method, url + path, timeout=60, **kw)
    assert r.status_code == status, (r.status_code, r.text[:300])
    err = r.json()["error"]
    assert err["code"] == code and isinstance(err["message"], str) and err["message"]
    assert want in (err["message"] + " " + str(err.get("field"))), err


def test_upload_ids_never_collide_unless_asked(server):
    url, tmp = server
    seed = SEED_IDS[3]
    other = b"Ersatzmeldung zum Test\n\nEin anderer Text."
    r = httpx.post(url + "/api/v1/documents", files={"file": (f"{seed}.txt", other, "text/plain")})
    assert r.status_code == 409 and r.json()["error"]["existing"] == seed
    titles = {d["doc_id"]: d["title"] for d in httpx.get(url + "/api/v1/documents", params={"limit": 500}).json()["documents"]}
    assert titles[seed] != "Ersatzmeldung zum Test"  # the article is untouched
    r = httpx.post(url + "/api/v1/documents", data={"replace": "true"},
                   files={"file": (f"{seed}.txt", b"Ersatzmeldung zum Test\n\nEin anderer Text mit 7 Booten.",
                                   "text/plain")}, timeout=120)
    assert r.status_code == 200 and r.json()["replaced"] is True and r.json()["doc_id"] == seed
    titles = {d["doc_id"]: d["title"] for d in httpx.get(url + "/api/v1/documents", params={"limit": 500}).json()["documents"]}
    assert titles[seed] == "Ersatzmeldung zum Test" and len(titles) == 5  # replaced in place, nothing added
    r = httpx.post(url + "/api/v1/documents", json={"name": "fresh.txt", "text": "Neu\n\nEin neuer Text."}, timeout=120)
    assert r.status_code == 200 and r.json()["replaced"] is False


def test_unicode_attacks_never_reach_a_500(server):
    url, _ = server
    for q in ["\u202e\u202dKursk", "Kursk" + "\u0301" * 500, "𝕂𝕦𝕣𝕤𝕜", "Kursk\ufeff", "<script>alert(1)</script> Kursk",
              "'; DROP TABLE vectors; --", "Kursk " * 300]:
        r = httpx.post(url + "/api/v1/search", json={"query": q[:2000]}, timeout=60)
        assert r.status_code in (200, 422), (q[:30], r.status_code, r.text[:200])


# ---------------------------------------------------------------- readers while a writer works

READER = r"""
import sys, json
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from rag.store import IndexStore
from rag.errors import RagError
store, n, seen, errors = IndexStore(Path(sys.argv[1])), int(sys.argv[2]), {}, []
for _ in range(n):
    try:
        data = store.load(with_faiss=False)
    except RagError as exc:
        errors.append(str(exc)[:200])
        continue
    key = ",".join(sorted(data.documents))
    seen[key] = seen.get(key, 0) + 1
    assert len(data.chunks) == data.chunk_vectors.shape[0]
print(json.dumps({"seen": seen, "errors": errors}))
"""


@pytest.mark.slow
def test_readers_never_see_a_broken_or_mixed_index_while_it_is_rewritten(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    for f in SEEDS.glob("*.txt"):
        shutil.copy(f, a)
    for f in sorted(SEEDS.glob("*.txt"))[:2]:
        shutil.copy(f, b)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"index:\n  root: {tmp_path / 'index'}\nembedding:\n  sentence_vectors: false\n", encoding="utf-8")
    assert _cli("index", str(a), "--config", str(cfg)).returncode == 0  # fills the embedding cache too
    assert _cli("index", str(b), "--prune", "--config", str(cfg)).returncode == 0
    idx = tmp_path / "index" / "default"
    reader = tmp_path / "reader.py"
    reader.write_text(READER, encoding="utf-8")
    readers = [subprocess.Popen([sys.executable, str(reader), str(idx), "4000", str(ROOT)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    killed = 0
    for i in range(20):  # re-index 20 times, alternating two corpora; every fourth run is killed mid-way
        src = a if i % 2 == 0 else b
        kill = i % 4 == 3
        before = {p.name for p in idx.iterdir()}
        proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "index", str(src), "--prune", "--config", str(cfg)],
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, "RAG_TEST_PAUSE": "write:5"} if kill else None)
        if kill:  # killed with its new generation complete on disk but not yet live
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                if any(p.name.startswith(".tmp-gen-") and p.name not in before for p in idx.iterdir()):
                    proc.send_signal(signal.SIGKILL)
                    killed += 1
                    break
                time.sleep(0.01)
        proc.wait()
    results = [json.loads(r.communicate(timeout=600)[0]) for r in readers]
    whole = {",".join(sorted(p.stem for p in a.glob("*.txt"))), ",".join(sorted(p.stem for p in b.glob("*.txt")))}
    for res in results:
        assert res["errors"] == []  # not one healthy index reported as corrupt
        assert set(res["seen"]) <= whole and sum(res["seen"].values()) > 0  # the old set or the new one, never a mix
    assert killed == 5
