"""Cluster load (by hand, never in CI): 1, 2, then 3 real nodes behind HAProxy (the shipped
deploy/haproxy/haproxy.cfg), many users streaming many torrents at once through the balancer.

Per node count: total stream throughput, each node's share (its own ``ts_stream_bytes_total``),
p50/p99 time to first byte (client side, response headers of a Range request), errors and byte
mismatches. Each torrent has its own loopback seeder and is warmed (complete on its holder)
before the timed phase, so the figures are the HTTP + engine read path of the holders.
The load generator shares the machine with the nodes: read the scaling ratio with that in mind.

    uv run python -m bench.cluster_load --duration 30 --torrents 6 --streams 12 --markdown /tmp/cluster.md
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from bench.load import cli, drop_redis_prefix, pct, pg_admin, service_env, start_service, stop_service, wait_serving
from tests.engine.swarm import Media, Seeder, make_media
from tests.support import free_port
from tests.verification.test_cluster_e2e import render_haproxy

MiB = 1024 * 1024


@dataclass
class Result:
    ttfb: list[float] = field(default_factory=list)
    bytes_read: int = 0
    errors: int = 0
    mismatches: int = 0


async def node_bytes(port: int) -> float:
    async with httpx.AsyncClient(timeout=5) as client:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    match = re.search(r"(?m)^ts_stream_bytes_total (\S+)$", text)
    return float(match.group(1)) if match else 0.0


async def prepare_user(client: httpx.AsyncClient, magnet: str, index: int) -> str:
    """Register, sign in, add ``magnet``; the stream URL of the torrent's file ``index``."""
    creds = {"email": f"cl-{secrets.token_hex(5)}@example.test", "password": f"Lq7!{secrets.token_urlsafe(12)}-Zx"}
    assert (await client.post("/api/v1/auth/register", json=creds)).status_code == 201
    headers = {
        "Authorization": f"Bearer {(await client.post('/api/v1/auth/login', json=creds)).json()['access_token']}"
    }
    added = await client.post("/api/v1/torrents", json={"magnet": magnet}, headers=headers)
    assert added.status_code == 201, added.text
    torrent_id = added.json()["id"]
    for _ in range(600):  # warm: complete on its holder (status answers on any node)
        issued = await client.post(f"/api/v1/torrents/{torrent_id}/files/{index}/stream", headers=headers)
        if issued.status_code == 200:
            url = str(issued.json()["url"])
            full = await client.get(url, timeout=300)
            detail = (await client.get(f"/api/v1/torrents/{torrent_id}", headers=headers)).json()
            if full.status_code == 200 and detail["progress"] >= 1.0:
                return url
        await asyncio.sleep(0.5)
    raise RuntimeError("a torrent did not complete")


async def reader(url: str, content: bytes, end: float, seed: int, result: Result) -> None:
    rng = random.Random(seed)
    async with httpx.AsyncClient(timeout=60) as client:
        while time.monotonic() < end:
            length = rng.randint(MiB // 2, 2 * MiB)
            start = rng.randrange(0, len(content) - length)
            began = time.monotonic()
            try:
                async with client.stream("GET", url, headers={"Range": f"bytes={start}-{start + length - 1}"}) as r:
                    result.ttfb.append(time.monotonic() - began)
                    body = await r.aread()
            except httpx.HTTPError:
                result.errors += 1
                continue
            if r.status_code != 206:
                result.errors += 1
                continue
            result.bytes_read += len(body)
            result.mismatches += body != content[start : start + length]


async def wait_balanced(base: str, count: int, timeout: float = 120) -> None:
    """Until the balancer answers and every node has passed its health checks (rise 2)."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        while time.monotonic() < deadline:
            try:
                names = {(await client.get("/readyz")).json().get("node") for _ in range(2 * count)}
                if len(names) == count:
                    return
            except (httpx.HTTPError, ValueError):
                pass
            await asyncio.sleep(0.5)
    raise RuntimeError("the balancer did not bring every node up")


def start_haproxy(config: Path, log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(["haproxy", "-db", "-f", str(config)], stdout=log, stderr=log)


async def run_nodes(count: int, args: argparse.Namespace, work: Path, media: list[Media], seeders: list[Seeder]) -> str:
    run_id = secrets.token_hex(4)
    database = prefix = f"ts_cluster_{run_id}"
    listen = free_port()
    base_env = service_env(work / f"n{count}", database, prefix, rate_limits=False, log_level="WARNING")
    base_env.update({"TS_CLUSTER_ENABLED": "true", "TS_PUBLIC_URL": f"http://127.0.0.1:{listen}"})
    await pg_admin(f'CREATE DATABASE "{database}"')
    processes: dict[str, tuple[int, subprocess.Popen[bytes]]] = {}
    balancer: subprocess.Popen[bytes] | None = None
    try:
        cli(base_env, "migrate")
        for n in range(1, count + 1):
            env = {**base_env, "TS_NODE_NAME": f"node{n}", "TS_DATA_DIR": str(work / f"n{count}" / f"node{n}")}
            port = free_port()
            processes[f"node{n}"] = (port, start_service(env, port, work / f"n{count}-node{n}.log"))
        for port, process in processes.values():
            await wait_serving(f"http://127.0.0.1:{port}", process, timeout=240)
        config = render_haproxy({name: port for name, (port, _) in processes.items()}, listen)
        for n in range(count + 1, 4):  # fewer nodes than the shipped three: drop the others' lines
            config = re.sub(rf"(?m)^\s+server node{n} .*$\n?", "", config)
        (work / f"haproxy-{count}.cfg").write_text(config)
        balancer = start_haproxy(work / f"haproxy-{count}.cfg", work / f"haproxy-{count}.log")
        base = f"http://127.0.0.1:{listen}"
        await wait_balanced(base, count)
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            urls = []
            for i, m in enumerate(media):
                magnet = f"magnet:?xt=urn:btih:{m.info_hash}&dn={m.name}&x.pe=127.0.0.1:{seeders[i].port}"
                urls.append(await prepare_user(client, magnet, m.file_index("movie.mp4")))
        await asyncio.sleep(3)  # non-holders release (metadata stored, no readers)
        before = {name: await node_bytes(port) for name, (port, _) in processes.items()}
        result, began = Result(), time.monotonic()
        end = began + args.duration
        await asyncio.gather(
            *(
                reader(urls[i % len(urls)], media[i % len(media)].files["movie.mp4"], end, i, result)
                for i in range(args.streams)
            )
        )
        seconds = time.monotonic() - began
        after = {name: await node_bytes(port) for name, (port, _) in processes.items()}
        shares = ", ".join(f"{n} {(after[n] - before[n]) / seconds / MiB:.1f}" for n in processes)
        ttfb = sorted(result.ttfb)
        return (
            f"| {count} | {result.bytes_read / seconds / MiB:.1f} | {shares} | {pct(ttfb, 0.5)} | {pct(ttfb, 0.99)} "
            f"| {len(ttfb)} | {result.errors} | {result.mismatches} |"
        )
    finally:
        if balancer is not None:
            balancer.terminate()
            balancer.wait(timeout=10)
        for _, process in processes.values():
            stop_service(process)
        await pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await drop_redis_prefix(prefix)


async def run(args: argparse.Namespace) -> str:
    work = Path(tempfile.mkdtemp(prefix="cluster-load-"))
    media = [
        make_media(work / f"seed{i}", name=f"Movie{i}", mdat=args.file_mib * MiB, seed=40 + i)
        for i in range(args.torrents)
    ]
    seeders = [Seeder(m) for m in media]
    rows = []
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    try:
        for count in args.nodes:
            rows.append(await run_nodes(count, args, work, media, seeders))
            print(rows[-1], flush=True)
    finally:
        for seeder in seeders:
            seeder.close()
        shutil.rmtree(work, ignore_errors=True)
    header = (
        f"{args.torrents} torrents ({args.file_mib} MiB each, own seeder), {args.streams} concurrent Range readers "
        f"(0.5-2 MiB each, bytes checked), {args.duration:.0f} s per row, rate limits off; "
        f"{platform.machine()}, {os.cpu_count()} cores, load average before {load_before}, after "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}\n\n"
        "| nodes | total MiB/s | per node MiB/s | TTFB p50 | TTFB p99 | requests | errors | mismatches |\n"
        "|---|---|---|---|---|---|---|---|\n"
    )
    return header + "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--torrents", type=int, default=6)
    parser.add_argument("--streams", type=int, default=12)
    parser.add_argument("--file-mib", type=int, default=8)
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    markdown = asyncio.run(run(args))
    print(markdown)
    if args.markdown:
        args.markdown.write_text(markdown)


if __name__ == "__main__":
    main()
