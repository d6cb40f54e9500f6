"""HTTP API against a real server process on a free loopback port."""

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).parents[1]


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start_server(tmp: Path, *extra: str, env: dict | None = None, ui: bool = False, corpus: Path | None = None):
    port = free_port()
    cfg = tmp / "c.yaml"
    cfg.write_text(f"corpus: {corpus or ROOT / 'seeds'}\nindex:\n  root: {tmp / 'index'}\nserver:\n"
                   f"  corpus_dir: {tmp / 'corpus'}\n  max_upload_mb: 1\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "rag.cli", "serve", "--config", str(cfg), "--port", str(port), *extra]
    if not ui:
        cmd.append("--no-ui")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read())
        try:
            r = httpx.get(url + "/api/v1/health", timeout=2)
            if r.status_code in (200, 401):
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError("server did not start")


def test_health_search_ask(server):
    url, _ = server
    h = httpx.get(url + "/api/v1/health").json()
    assert h["index_loaded"] and h["documents"] == 5 and h["model"] == "multilingual-e5-small"
    r = httpx.post(url + "/api/v1/search", json={"query": "Kursk", "k": 3, "filters": {"source": "ntv"}}).json()
    assert len(r["hits"]) == 3 and all(x["source"].startswith("ntv") for x in r["hits"])
    a = httpx.post(url + "/api/v1/ask", json={"question": "How many troops did North Korea send to Russia?", "llm": "none"},
                   timeout=60).json()
    assert a["flag"] and a["conflicts"] and a["citations"] and a["backend"] == "extractive"
    assert httpx.get(url + "/api/v1/openapi.json").json()["paths"]["/api/v1/ask"]


def test_article_view_marks_passage(server):
    url, _ = server
    a = httpx.post(url + "/api/v1/ask", json={"question": "Which region did North Korean soldiers help recapture?"},
                   timeout=60).json()
    c = a["citations"][0]
    page = httpx.get(url + f"/api/v1/documents/{c['doc_id']}/view", params={"start": c["start"], "end": c["end"]})
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    import html as _html

    assert f'<mark id="passage">{_html.escape(c["quote"])}</mark>' in page.text
    assert httpx.get(url + "/api/v1/documents/nope/view").status_code == 404


def test_streaming_ask_sends_evidence_first(server):
    url, _ = server
    import json

    with httpx.stream("POST", url + "/api/v1/ask/stream", json={"question": "Wie viele Soldaten hat Nordkorea entsandt?"},
                      timeout=60) as r:
        events = [json.loads(line) for line in r.iter_lines() if line]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "evidence" and kinds[-1] == "final" and "token" in kinds
    assert events[0]["answer"]["flag"] and events[-1]["answer"]["language"] == "de"
    assert "".join(e["text"] for e in events if e["type"] == "token") == events[-1]["answer"]["answer"]


@pytest.mark.parametrize("body,code", [
    ({"question": ""}, 422), ({"question": "?!"}, 422), ({"question": "x" * 2001}, 422),
    ({"question": "Kursk", "k": 0}, 422), ({"question": "Kursk", "k": 10_000}, 422), ({"question": "Kursk", "llm": "gpt"}, 422),
])
def test_validation_errors(server, body, code):
    url, _ = server
    r = httpx.post(url + "/api/v1/ask", json=body)
    err = r.json()["error"]
    assert r.status_code == code and err["code"] == "invalid_request" and err["message"] and err["field"]


def test_oversized_body_refused(server):
    url, _ = server
    r = httpx.post(url + "/api/v1/search", content=b'{"query": "' + b"a" * 400_000 + b'"}',
                   headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_documents_add_list_delete(server):
    url, tmp = server
    text = "Neue Meldung über Panzer\n\nDie Armee von Ruritanien hat 250 Panzer an die Grenze verlegt, sagte ein Sprecher."
    r = httpx.post(url + "/api/v1/documents", files={"file": ("../../evil name.txt", text.encode(), "text/plain")}, timeout=120)
    assert r.status_code == 200, r.text
    doc_id = r.json()["doc_id"]
    assert doc_id == "evil_name" and (tmp / "corpus" / "evil_name.txt").exists()
    assert not (tmp.parent / "evil name.txt").exists()
    docs = httpx.get(url + "/api/v1/documents").json()
    assert docs["total"] == 6 and all("path" not in d for d in docs["documents"])  # no server paths shown
    assert len(httpx.get(url + "/api/v1/documents", params={"offset": 2, "limit": 3}).json()["documents"]) == 3
    hits = httpx.post(url + "/api/v1/search", json={"query": "Ruritanien Panzer", "k": 1}).json()["hits"]
    assert hits[0]["doc_id"] == doc_id
    r = httpx.post(url + "/api/v1/documents", json={"name": "pasted.md", "text": "# Kurz\n\nEin weiterer Artikel über 12 Boote."},
                   timeout=120)
    assert r.status_code == 200 and r.json()["doc_id"] == "pasted"
    assert httpx.delete(url + f"/api/v1/documents/{doc_id}", timeout=120).json()["removed"] == doc_id
    assert httpx.delete(url + "/api/v1/documents/nope").status_code == 404
    bad = httpx.post(url + "/api/v1/documents", files={"file": ("x.txt", b"\x89PNG\r\n\x1a\n\0\0\0", "text/plain")})
    assert bad.status_code == 400 and "binary" in bad.json()["error"]["message"]
    big = httpx.post(url + "/api/v1/documents", files={"file": ("big.txt", b"Satz. " * 400_000, "text/plain")})
    assert big.status_code in (400, 413)
    assert httpx.get(url + "/api/v1/documents").json()["total"] == 6


def test_concurrent_requests(server):
    url, _ = server
    with httpx.Client(timeout=120) as c, ThreadPoolExecutor(16) as ex:
        searches = [ex.submit(c.post, url + "/api/v1/search", json={"query": "Kursk Soldaten", "k": 3}) for _ in range(50)]
        asks = [ex.submit(c.post, url + "/api/v1/ask", json={"question": "Wie viele Soldaten hat Nordkorea entsandt?",
                                                               "llm": "none"}) for _ in range(10)]
        res = [f.result() for f in searches + asks]
    assert all(r.status_code == 200 for r in res)
    first = res[0].json()["hits"][0]["chunk_id"]
    assert all(r.json()["hits"][0]["chunk_id"] == first for r in res[:50])
    assert all(r.json()["flag"] for r in res[50:])


def test_remote_bind_needs_flag_and_token(tmp_path):
    p = subprocess.run([sys.executable, "-m", "rag.cli", "serve", "--host", "0.0.0.0", "--no-ui"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "--allow-remote" in p.stderr
    env = {k: v for k, v in os.environ.items() if k != "RAG_API_TOKEN"}
    p = subprocess.run([sys.executable, "-m", "rag.cli", "serve", "--host", "0.0.0.0", "--allow-remote", "--no-ui"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 1 and "RAG_API_TOKEN" in p.stderr


def test_token_checked_on_api_and_ui(tmp_path):
    proc, url = start_server(tmp_path, env={"RAG_API_TOKEN": "s3cret"}, ui=True)
    try:
        assert httpx.get(url + "/api/v1/health").status_code == 401
        assert httpx.get(url + "/api/v1/health", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(url + "/api/v1/health", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert httpx.get(url + "/").status_code in (401, 403)
        assert httpx.get(url + "/?token=s3cret").status_code == 200
    finally:
        proc.terminate()
        proc.wait(10)


def test_slow_llm_does_not_block_searches(tmp_path):
    from ollama_standin import OllamaStandIn

    with OllamaStandIn(["qwen2.5:3b-instruct"], reply="slow " * 40, delay=0.25) as llm:
        proc, url = start_server(tmp_path, env={"RAG_LLM__OLLAMA_HOST": llm.url, "RAG_LLM__TIMEOUT_S": "60"})
        try:
            with httpx.Client(timeout=120) as c, ThreadPoolExecutor(4) as ex:
                slow = ex.submit(c.post, url + "/api/v1/ask", json={"question": "Wie viele Soldaten?", "llm": "ollama"})
                time.sleep(1.0)
                t = time.perf_counter()
                for _ in range(5):
                    assert c.post(url + "/api/v1/search", json={"query": "Kursk", "k": 2}).status_code == 200
                fast = time.perf_counter() - t
                assert not slow.done()  # the LLM is still writing while searches were served
                assert slow.result().status_code == 200
            assert fast < 5.0
        finally:
            proc.terminate()
            proc.wait(10)
