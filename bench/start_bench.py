"""Stream start as a user waits for it (by hand, never in CI): the clock starts at the add-torrent API
call (a magnet whose tracker answers with a loopback seeder), over HTTP, with a fresh service per run;
beside a raw libtorrent reader added by the same magnet in the same run, runs alternating.

Run: ``uv run python bench/start_bench.py [--piece-kib 1024 32] [--mib 64] [--reps 3] [--seed-rate-mib 0]
[--cold-service] [--json out.json]``
Prints one JSON document: per piece size, each figure's samples for (a) raw and (c) the service.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import libtorrent as lt
import uvicorn
from fastapi import FastAPI

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parent / "src")]

from stream_bench import Nginx, Seeder, free_port, http_warm, make_media, make_torrent  # noqa: E402 - imported after the sys.path set-up above
from stream_workers import RAW_SETTINGS, Layout  # noqa: E402 - imported after the sys.path set-up above
from tests.support import TEST_ENCRYPTION_KEYS, TEST_SECRET_KEY  # noqa: E402 - imported after the sys.path set-up above
from tracker import Tracker  # noqa: E402 - imported after the sys.path set-up above

from torrent_streamer.app import create_app  # noqa: E402 - imported after the sys.path set-up above
from torrent_streamer.core import migrate  # noqa: E402 - imported after the sys.path set-up above
from torrent_streamer.core.config import Settings  # noqa: E402 - imported after the sys.path set-up above

MiB = 1024 * 1024
FIRST = 16 * MiB
SEEK_AT = 0.6
PASSWORD = f"Tq9!{secrets.token_urlsafe(12)}-zK"


# -- (a) raw libtorrent reader ----------------------------------------------------------------
def _wait(ses: lt.session, want: Any, timeout: float = 60) -> list[Any]:
    """Pop alerts until `want(alert)` holds for one; returns the matching alerts seen."""
    end, hits = time.monotonic() + timeout, []
    while time.monotonic() < end:
        if ses.wait_for_alert(200):
            for a in ses.pop_alerts():
                if want(a):
                    hits.append(a)
            if hits:
                return hits
    raise TimeoutError("alert did not come")


def raw_run(magnet: str, lay: Layout, work: Path) -> dict[str, float]:
    ses = lt.session({**RAW_SETTINGS, "alert_mask": int(RAW_SETTINGS["alert_mask"] | lt.alert_category.status)})
    flags = lt.deadline_flags_t.alert_when_available
    t0 = time.perf_counter()
    atp = lt.parse_magnet_uri(magnet)
    atp.save_path = str(work)
    atp.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
    h = ses.add_torrent(atp)
    _wait(ses, lambda a: isinstance(a, lt.metadata_received_alert))
    meta = time.perf_counter() - t0
    h.prioritize_files([4 if i == lay.index else 0 for i in range(lay.num_files)])
    _wait(ses, lambda a: isinstance(a, lt.file_prio_alert))
    out: dict[str, float] = {"meta": meta}
    want = list(range(lay.first, min(lay.last, lay.piece_of(FIRST - 1)) + 1))
    for k, p in enumerate(want):
        h.set_piece_deadline(p, k, flags)
    got: set[int] = set()
    while len(got) < len(want):
        for a in _wait(ses, lambda a: isinstance(a, lt.read_piece_alert)):
            got.add(a.piece)
            if a.piece == want[0] and "ttfb" not in out:
                out["ttfb"] = time.perf_counter() - t0
    out["first16"] = time.perf_counter() - t0
    h.clear_piece_deadlines()
    seek = lay.piece_of(int(lay.size * SEEK_AT))
    began = time.perf_counter()
    h.set_piece_deadline(seek, 0, flags)
    _wait(ses, lambda a: isinstance(a, lt.read_piece_alert) and a.piece == seek)
    out["seek"] = time.perf_counter() - began
    ses.pause()
    del ses
    return out


# -- (c) the service over HTTP ----------------------------------------------------------------
@asynccontextmanager
async def serve(work: Path, **overrides: Any) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str], FastAPI]]:
    """A fresh service (empty database, engine and download dir) under uvicorn; a signed-in client."""
    db = f"sqlite+aiosqlite:///{work / 'bench.db'}"
    await asyncio.to_thread(migrate.upgrade, db)
    port = free_port()
    settings = Settings(
        data_dir=work / "data",
        database_url=db,
        secret_key=TEST_SECRET_KEY,
        encryption_keys=TEST_ENCRYPTION_KEYS,
        engine="libtorrent",
        engine_listen_interfaces="127.0.0.1:0",
        engine_enable_dht=False,
        engine_allow_private_networks=True,
        rate_limit_enabled=False,
        stream_max_per_user=16,  # the warm phase's 8 concurrent readers
        **overrides,
    )
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.01)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            email = "bench@example.test"
            registered = await client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
            assert registered.status_code == 201, registered.text
            login = (await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})).json()
            yield client, {"Authorization": f"Bearer {login['access_token']}"}, app
    finally:
        server.should_exit = True
        await serving


async def add_and_url(client: httpx.AsyncClient, auth: dict[str, str], magnet: str, index: int) -> str:
    """What a user does: add the magnet, ask for the file's stream URL."""
    added = await client.post("/api/v1/torrents", headers=auth, json={"magnet": magnet})
    assert added.status_code == 201, added.text
    stream = await client.post(f"/api/v1/torrents/{added.json()['id']}/files/{index}/stream", headers=auth)
    assert stream.status_code == 200, stream.text
    return str(stream.json()["url"])


async def warm_up(client: httpx.AsyncClient, auth: dict[str, str], app: FastAPI, magnet: str, index: int) -> None:
    """A running service has served requests before: add another torrent, stream from it, remove it
    (its data too), so the clock below does not time first-call costs (SQL compilation, imports);
    returns once the engine is empty again."""
    url = await add_and_url(client, auth, magnet, index)
    for span in ("0-1", "0-1048575", "-65536"):
        async with client.stream("GET", url, headers={"Range": f"bytes={span}"}) as response:
            async for _ in response.aiter_raw():
                pass
    listed = (await client.get("/api/v1/torrents", headers=auth)).json()
    for item in listed["items"]:
        removed = await client.delete(f"/api/v1/torrents/{item['id']}", headers=auth)
        assert removed.status_code == 204, removed.text
    engine = app.state.services.extras["engine"]
    for _ in range(100):
        if not engine.list_status():
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("the warm-up torrent stayed in the engine")


def lean_get(base_url: str, path: str, byte_range: str, first_only: bool = False) -> tuple[float, float, int]:
    """GET `path` with `Range: bytes=<byte_range>` on a plain blocking socket (run in a thread): the
    client costs next to nothing, as a player in its own process would. Returns the perf_counter
    times of the first body byte and of the last, and the body's length."""
    host, port = base_url.removeprefix("http://").rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=120) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nRange: bytes={byte_range}\r\n\r\n".encode())
        buf = bytearray(1 << 20)
        head = b""
        while b"\r\n\r\n" not in head:
            n = sock.recv_into(buf)
            if not n:
                raise RuntimeError("connection closed in the headers")
            head += bytes(buf[:n])
        header, body = head.split(b"\r\n\r\n", 1)
        status = header.split(b" ", 2)[1]
        if status != b"206":
            raise RuntimeError(f"status {status!r}")
        fields = dict(line.split(b":", 1) for line in header.split(b"\r\n")[1:])
        length = int({k.strip().lower(): v for k, v in fields.items()}[b"content-length"])
        got = len(body)
        while not got:
            got = sock.recv_into(buf)
        first = time.perf_counter()
        if first_only:
            return first, first, got
        while got < length:
            n = sock.recv_into(buf)
            if not n:
                raise RuntimeError("connection closed in the body")
            got += n
        return first, time.perf_counter(), got


async def service_run(
    magnet: str,
    lay: Layout,
    work: Path,
    warm: tuple[str, int] | None,
    nginx: Nginx | None = None,
    warm_rounds: int = 3,
) -> dict[str, float]:
    out: dict[str, float] = {}
    async with serve(work) as (client, auth, app):
        if warm is not None:
            await warm_up(client, auth, app, *warm)
        t0 = time.perf_counter()
        url = await add_and_url(client, auth, magnet, lay.index)
        out["meta"] = time.perf_counter() - t0  # added, metadata in, stream URL issued
        base, path = str(client.base_url), urlsplit(url).path
        first, last, total = await asyncio.to_thread(lean_get, base, path, f"0-{FIRST - 1}")
        assert total == min(FIRST, lay.size)
        out["ttfb"], out["first16"] = first - t0, last - t0
        began = time.perf_counter()
        start = int(lay.size * SEEK_AT)
        first, _, _ = await asyncio.to_thread(lean_get, base, path, f"{start}-", True)
        out["seek"] = first - began
        if nginx is not None:
            out.update(await warm_phase(client, url, lay, nginx, warm_rounds))
    return out


async def warm_phase(client: httpx.AsyncClient, url: str, lay: Layout, nginx: Nginx, rounds: int) -> dict[str, float]:
    """The file complete: `curl` processes (1 reader, then 8 on an eighth each) read it over HTTP
    from the service and from nginx (sendfile), rounds alternating; MiB/s, median of the rounds."""
    async with client.stream("GET", url) as response:  # the rest of the file
        async for _ in response.aiter_raw():
            pass
    for _ in range(50):  # the engine reads a complete file from disk once libtorrent proved it written
        async with client.stream("GET", url, headers={"Range": "bytes=0-0"}) as response:
            await response.aread()
        await asyncio.sleep(0.02)
    full = f"{client.base_url}".rstrip("/") + url if url.startswith("/") else url
    svc, ref = [], []
    for _ in range(rounds):
        svc.append(await asyncio.to_thread(http_warm, full, lay.size, 1))
        ref.append(await asyncio.to_thread(http_warm, nginx.url, lay.size, 1))
    return {
        "warm_1_mib_s": statistics.median(r["single"] for r in svc),
        "warm_8_mib_s": statistics.median(r["multi"] for r in svc),
        "nginx_1_mib_s": statistics.median(r["single"] for r in ref),
        "nginx_8_mib_s": statistics.median(r["multi"] for r in ref),
    }


def summary(samples: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(samples) * 1000, 1), "min_ms": round(min(samples) * 1000, 1),
            "max_ms": round(max(samples) * 1000, 1)}  # fmt: skip


def magnet_of(torrent: bytes, tracker: Tracker) -> str:
    ih = str(lt.torrent_info(torrent).info_hashes().v1)
    return f"magnet:?xt=urn:btih:{ih}&dn=Bench&tr={quote(tracker.url, safe='')}"


async def main(
    pieces_kib: list[int], mib: int, reps: int, seed_rate_mib: int, cold_service: bool, warm_rounds: int
) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix="start-bench-"))
    make_media(base / "media", mib * MiB, seconds=max(1, mib))  # 1 MiB/s of "playback"
    report: dict[str, Any] = {
        "file_mib": mib,
        "reps": reps,
        "seed_rate_mib_s": seed_rate_mib or "unthrottled",
        "service": "first add after start" if cold_service else "warmed by another torrent",
    }
    nginx = Nginx(base / "nginx", base / "media") if warm_rounds else None
    warm_tracker = Tracker([])
    make_media(base / "warm", 4 * MiB, seconds=4, seed=7)
    warm_torrent = make_torrent(base / "warm", 256 * 1024, warm_tracker.url)
    warm_seeder = Seeder(base / "warm", warm_torrent)
    warm_tracker.peers = [("127.0.0.1", warm_seeder.port)]
    warm = None if cold_service else (magnet_of(warm_torrent, warm_tracker), Layout(warm_torrent).index)
    for kib in pieces_kib:
        tracker = Tracker([])
        torrent = make_torrent(base / "media", kib * 1024, tracker.url)
        seeder = Seeder(base / "media", torrent)
        if seed_rate_mib:
            seeder.throttle(seed_rate_mib * MiB)
        tracker.peers = [("127.0.0.1", seeder.port)]
        lay = Layout(torrent)
        magnet = magnet_of(torrent, tracker)
        runs: dict[str, list[dict[str, float]]] = {"raw": [], "service": []}
        for rep in range(reps):
            work = base / f"run-{kib}-{rep}"
            runs["raw"].append(await asyncio.to_thread(raw_run, magnet, lay, work / "raw"))
            (work / "svc").mkdir(parents=True)
            last = rep == reps - 1
            runs["service"].append(
                await service_run(magnet, lay, work / "svc", warm, nginx if last else None, warm_rounds)
            )
            print(f"{kib} KiB rep {rep}: {runs['raw'][-1]} {runs['service'][-1]}", file=sys.stderr, flush=True)
        figures: dict[str, Any] = {}
        for key in ("meta", "ttfb", "first16", "seek"):
            raw = [r[key] for r in runs["raw"]]
            svc = [r[key] for r in runs["service"]]
            figures[key] = {"raw": summary(raw), "service": summary(svc),
                            "ratio_median": round(statistics.median(svc) / statistics.median(raw), 2)}  # fmt: skip
        for impl in ("raw", "service"):  # the rate the first 16 MiB came at, after their first byte
            rates = [FIRST / MiB / (r["first16"] - r["ttfb"]) for r in runs[impl] if r["first16"] > r["ttfb"]]
            figures.setdefault("first16_rate_mib_s", {})[impl] = round(statistics.median(rates), 1) if rates else None
        if nginx is not None:
            warm_run = runs["service"][-1]
            figures["warm"] = {k: round(v, 1) for k, v in warm_run.items() if k.endswith("_mib_s")}
            figures["warm"]["ratio_1"] = round(warm_run["warm_1_mib_s"] / warm_run["nginx_1_mib_s"], 2)
            figures["warm"]["ratio_8"] = round(warm_run["warm_8_mib_s"] / warm_run["nginx_8_mib_s"], 2)
        report[f"{kib}_kib_pieces"] = figures
        seeder.close()
        tracker.close()
    warm_seeder.close()
    warm_tracker.close()
    if nginx is not None:
        nginx.close()
    sizes = [k for k in pieces_kib if f"{k}_kib_pieces" in report]
    if 32 in sizes and 1024 in sizes:  # issue 15: 32 KiB pieces stream at >= 0.8x the 1 MiB rate
        small, big = report["32_kib_pieces"]["first16_rate_mib_s"], report["1024_kib_pieces"]["first16_rate_mib_s"]
        report["rate_32_vs_1024"] = {i: round(small[i] / big[i], 2) for i in small if small[i] and big[i]}
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--piece-kib", type=int, nargs="+", default=[1024, 32])
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seed-rate-mib", type=int, default=0)
    parser.add_argument("--cold-service", action="store_true", help="time the first add after the service starts")
    parser.add_argument("--warm-rounds", type=int, default=3, help="warm phase vs nginx after the last rep (0: none)")
    parser.add_argument("--json", type=Path, help="also write the report here (stdout carries the service's log)")
    args = parser.parse_args()
    report = asyncio.run(
        main(args.piece_kib, args.mib, args.reps, args.seed_rate_mib, args.cold_service, args.warm_rounds)
    )
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
