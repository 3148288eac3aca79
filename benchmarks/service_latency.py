"""Time the service's reads with 20 campaigns in the store: p50 and p95 per route.

A real uvicorn on 127.0.0.1 over a fresh SQLite store; 20 small campaigns of
the Scharenberg screen (manual lab, a batch of 32 proposed each; half of
them approved, dispatched and half answered), then each read route is called
`--n` times in turn by one client with keep-alive. Run:

    python benchmarks/service_latency.py [--n 200] [--campaigns 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

DATA = Path(os.environ.get("LOOPWELL_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def spec(name: str) -> dict:
    screens = DATA / "screens"
    return {
        "name": name,
        "design_space": {"kind": "genes", "table": str(screens / "ground_truth_Scharenberg22.csv"),
                         "gene_sets": [str(DATA / "genesets" / "ReactomePathways.gmt")],
                         "essential_genes": str(screens / "CEGv2.txt")},
        "objective": {"kind": "hits", "top_fraction": 0.05, "transform": "log"},
        "budget": {"rounds": 3, "batch_size": 32, "initial_strategy": "random"},
        "lab": {"kind": "manual"}, "approval": "manual", "seed": 1,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _percentiles(ms: list[float]) -> tuple[float, float]:
    qs = statistics.quantiles(ms, n=100, method="inclusive")
    return qs[49], qs[94]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="calls per route")
    parser.add_argument("--campaigns", type=int, default=20)
    args = parser.parse_args()

    from loop.service.app import create_app
    from loop.service.tables import create_token

    tmp = Path(tempfile.mkdtemp(prefix="loopwell-latency-"))
    app = create_app(f"sqlite:///{tmp / 'store.db'}", tmp / "state")
    engine = app.state.service.store.engine
    op_token = create_token(engine, "operator", "bench-operator")[1]
    lab_token = create_token(engine, "lab", "bench-lab")[1]
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    names = [f"bench-{k:02d}" for k in range(args.campaigns)]
    t0 = time.perf_counter()
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {op_token}"},
                      timeout=120) as op, \
            httpx.Client(base_url=url, headers={"Authorization": f"Bearer {lab_token}"}) as lab:
        for name in names:
            op.post("/campaigns", json=spec(name)).raise_for_status()
        app.state.service.worker.wait_idle(600)
        for name in names[::2]:
            op.post(f"/campaigns/{name}/proposals/approve").raise_for_status()
        app.state.service.worker.wait_idle(600)
        for name in names[::2]:
            todo = lab.get(f"/campaigns/{name}/proposals", params={"state": "dispatched"}).json()
            lab.post(f"/campaigns/{name}/results", json=[
                {"experiment_id": p["experiment_id"], "value": 1.0 + k}
                for k, p in enumerate(todo[: len(todo) // 2])]).raise_for_status()
        app.state.service.worker.wait_idle(600)
        print(f"set up {len(names)} campaigns in {time.perf_counter() - t0:.1f} s")
        routes = {
            "GET /campaigns": lambda k: "/campaigns",
            "GET /campaigns/{name}": lambda k: f"/campaigns/{names[k % len(names)]}",
            "GET /campaigns/{name}/rounds": lambda k: f"/campaigns/{names[k % len(names)]}/rounds",
            "GET /campaigns/{name}/proposals":
                lambda k: f"/campaigns/{names[k % len(names)]}/proposals",
            "GET /campaigns/{name}/audit": lambda k: f"/campaigns/{names[k % len(names)]}/audit",
        }
        every: list[float] = []
        print(f"{'route':34s} {'n':>5s} {'p50 ms':>8s} {'p95 ms':>8s}")
        for label, path in routes.items():
            for k in range(10):  # warm-up
                op.get(path(k)).raise_for_status()
            ms = []
            for k in range(args.n):
                start = time.perf_counter()
                op.get(path(k)).raise_for_status()
                ms.append((time.perf_counter() - start) * 1000)
            every += ms
            p50, p95 = _percentiles(ms)
            print(f"{label:34s} {len(ms):5d} {p50:8.1f} {p95:8.1f}")
        p50, p95 = _percentiles(every)
        print(f"{'all reads':34s} {len(every):5d} {p50:8.1f} {p95:8.1f}")
    server.should_exit = True
    thread.join(30)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
