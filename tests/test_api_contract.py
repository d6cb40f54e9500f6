"""The HTTP API's contract, against a real server process on 127.0.0.1: every response has a schema, every error
answers JSON in one shape, schemathesis finds no 500 and no response that breaks the schema, and the official
``openai`` client talks to the OpenAI-compatible routes (plain and streaming)."""

import json

import httpx
import pytest
from conftest import need_module
from hypothesis import HealthCheck, settings
from test_server import start_server

schemathesis = need_module("schemathesis", "schemathesis (dev extra)")
openai = need_module("openai", "the openai client (dev extra)")

TROOPS = "How many troops did North Korea send to Russia?"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc, url = start_server(tmp_path_factory.mktemp("contract"))
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def api_schema(server):
    return schemathesis.openapi.from_url(server + "/api/v1/openapi.json")


def test_every_operation_documents_its_responses_and_errors(server):
    spec = httpx.get(server + "/api/v1/openapi.json").json()
    assert httpx.get(server + "/openapi.json", follow_redirects=True).json() == spec  # the API's, not the UI's
    schemas = spec["components"]["schemas"]
    assert {"HTTPBearer", "APIKeyHeader"} <= set(spec["components"]["securitySchemes"])
    ops = [(p, m, op) for p, item in spec["paths"].items() for m, op in item.items()]
    assert len(ops) >= 10
    for path, method, op in ops:
        ok = op["responses"]["200"]["content"]
        assert any(c.get("schema") for c in ok.values()) or "text/event-stream" in ok, (method, path)
        if "application/json" in ok:
            assert ok["application/json"]["schema"].get("$ref") or ok["application/json"]["schema"].get("type"), path
        for code in ("400", "401", "413", "422", "500"):
            ref = op["responses"][code]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ErrorOut"), (method, path, code)
        assert op.get("security"), (method, path)  # the token scheme is documented on every route
    assert {"code", "message", "field"} <= set(schemas["ErrorDetail"]["properties"])
    assert schemas["Answer"]["properties"]["citations"] and schemas["SearchOut"]["properties"]["hits"]


@pytest.mark.parametrize("method,path,body", [
    ("POST", "/api/v1/search", {"nope": 1}), ("POST", "/api/v1/ask", {"question": 3}), ("GET", "/api/v1/documents/x/view", None),
    ("DELETE", "/api/v1/documents/x", None), ("GET", "/api/v1/missing", None), ("PATCH", "/api/v1/health", None),
    ("POST", "/v1/chat/completions", {"model": "newsrag"}), ("GET", "/v1/nothing", None),
])
def test_every_error_answers_one_json_shape(server, method, path, body):
    r = httpx.request(method, server + path, json=body, timeout=60)
    assert 400 <= r.status_code < 500 and r.headers["content-type"].startswith("application/json")
    assert set(r.json()) == {"error"} and {"code", "message", "field"} <= set(r.json()["error"])


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_fuzz_every_route(case):
    """Generated and malformed bodies, parameters and paths for every route: never a 500, and every answer fits
    the documented schema, status codes and content type."""
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    if case.method == "POST" and case.path == "/api/v1/documents" and isinstance(case.body, dict):
        case.body["replace"] = False  # never replace the seed articles while fuzzing
    if case.path.startswith("/api/v1/ask") and isinstance(case.body, dict) and case.body.get("llm") == "llamacpp":
        # each such call would run the embedded model for seconds; test_answer.py covers that backend
        case.body["llm"] = "none"
    # Schema-valid is not always meaningful: a file of any bytes may be no article (400), a question of only
    # punctuation has nothing to search for (422), a filter may name a document the index lacks (404). Those
    # answers are checked by test_hostile.py; here every answer must still be documented and well-formed.
    case.call_and_validate(timeout=120, excluded_checks=[positive_data_acceptance])


def test_openai_client_plain_and_streaming(server):
    client = openai.OpenAI(base_url=server + "/v1", api_key="unused", timeout=120)
    assert {"newsrag", "newsrag-extractive"} <= {m.id for m in client.models.list()}
    resp = client.chat.completions.create(model="newsrag", messages=[
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": TROOPS}])
    text = resp.choices[0].message.content
    extra = resp.model_extra or {}
    assert "[1]" in text and "10,000" in text
    cites = extra["citations"]
    assert cites and all(f"[{c['n']}]" in text for c in cites) and all(c["quote"] for c in cites)
    assert extra["conflicts"] and extra["conflicts"][0]["kind"] in ("vary", "conflict")
    stream = client.chat.completions.create(model="newsrag", messages=[{"role": "user", "content": TROOPS}], stream=True)
    pieces, last = [], None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        last = chunk
    assert "".join(pieces) == text  # the same grounded answer, streamed
    assert last.choices[0].finish_reason == "stop" and (last.model_extra or {})["citations"]


def test_openai_client_errors(server, tmp_path):
    client = openai.OpenAI(base_url=server + "/v1", api_key="unused", timeout=60)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": TROOPS}])
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model="newsrag", messages=[{"role": "system", "content": "no question"}])
    proc, url = start_server(tmp_path, env={"RAG_API_TOKEN": "s3cret"})
    try:
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=url + "/v1", api_key="wrong").models.list()
        assert openai.OpenAI(base_url=url + "/v1", api_key="s3cret").models.list().data
    finally:
        proc.terminate()
        proc.wait(10)


def test_stream_route_sends_ndjson_events(server):
    with httpx.stream("POST", server + "/api/v1/ask/stream", json={"question": TROOPS}, timeout=60) as r:
        assert r.headers["content-type"].startswith("application/x-ndjson")
        events = [json.loads(line) for line in r.iter_lines() if line]
    assert events[0]["type"] == "evidence" and events[-1]["type"] == "final"
