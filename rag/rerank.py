"""Optional cross-encoder reranking (``retrieval.reranker: <model name or path>``; off by default).

No cross-encoder weights are installable offline here, so this is for users with internet or a local
model folder, e.g. ``cross-encoder/mmarco-mMiniLMv2-L12-H384-v1`` (multilingual).
"""

from __future__ import annotations

import threading
from typing import Any

from rag.errors import ConfigError
from rag.models import Hit

_MODELS: dict[str, Any] = {}
_LOCK = threading.Lock()


def load_cross_encoder(name: str) -> Any:
    """Load (once per process) a sentence-transformers ``CrossEncoder``.

    Raises:
        ConfigError: the model cannot be loaded (named, with the reason).
    """
    with _LOCK:
        if name not in _MODELS:
            try:
                from sentence_transformers import CrossEncoder

                _MODELS[name] = CrossEncoder(name, device="cpu")
            except Exception as exc:  # noqa: BLE001 - network, missing files, wrong model type
                msg = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
                raise ConfigError(f"setting 'retrieval.reranker': cannot load cross-encoder '{name}' ({msg})") from None
        return _MODELS[name]


def rerank(name: str, query: str, hits: list[Hit], k: int) -> list[Hit]:
    """Reorder hits by cross-encoder relevance of (query, passage); keep the top ``k``."""
    if not hits:
        return hits
    model = load_cross_encoder(name)
    with _LOCK:
        scores = model.predict([(query, h.text) for h in hits], show_progress_bar=False)
    order = sorted(range(len(hits)), key=lambda i: -float(scores[i]))[:k]
    return [hits[i].model_copy(update={"rank": r + 1, "score": round(float(scores[i]), 6)}) for r, i in enumerate(order)]
