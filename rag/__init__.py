"""newsrag: grounded question answering over news archives, with figure-conflict detection.

    from rag import Engine
    engine = Engine.open("index/default")
    hits = engine.search("How many troops did North Korea send?", k=5)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Engine", "Settings", "load_settings", "Filters", "RagError"]
__version__ = "0.1.0"

if TYPE_CHECKING:
    from rag.config import Settings, load_settings
    from rag.engine import Engine
    from rag.errors import RagError
    from rag.retrieval import Filters


def __getattr__(name: str) -> Any:
    if name == "Engine":
        from rag.engine import Engine

        return Engine
    if name in ("Settings", "load_settings"):
        from rag import config

        return getattr(config, name)
    if name == "Filters":
        from rag.retrieval import Filters

        return Filters
    if name == "RagError":
        from rag.errors import RagError

        return RagError
    raise AttributeError(name)
