"""Load and soak (by hand, never in CI): the real service in a subprocess under a bounded mix of
sign-in, refresh, search, torrent status and concurrent Range streams; latency, errors and RSS.

Each virtual user is a separate client address on loopback (127.0.0.<n>), like distinct devices,
so per-IP limits apply per user; a 429 is an intended answer and is reported apart from errors.
Streams read a warm (fully downloaded) file, so they exercise the HTTP + engine read path; every
byte read is compared with the seeded file.

    uv run python -m bench.load --duration 600 --markdown /tmp/load.md
    uv run python -m bench.load --duration 120 --no-rate-limits   # labelled: limits off
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tests.engine import swarm
from tests.engine.swarm import Media, Seeder, make_media
from tests.support import free_port

from torrent_streamer.core.secrets import new_encryption_key_entry

MiB = 1024 * 1024
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
API_ROUTES = ("login", "refresh", "search", "status")
MIX = {"login": 1, "refresh": 2, "search": 4, "status": 4}  # relative weights of the API loop
WORDS = ("alpha", "bravo", "night", "river", "storm", "ocean", "summer", "winter", "dragon", "shadow", "city", "gold")
TAGS = ("1080p", "720p", "S01E02", "S02E05", "FLAC", "x265", "HDR", "epub", "Remastered")


@dataclass
class Stats:
    samples: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # 2xx latency
    statuses: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    limited_latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    stream_bytes: int = 0
    mismatches: int = 0

    def record(self, route: str, status: str, seconds: float) -> None:
        self.statuses[route][status] += 1
        if status.startswith("2"):
            self.samples[route].append(seconds)
        elif status == "429":
            self.limited_latency[route].append(seconds)


@dataclass
class User:
    ip: str
    email: str
    password: str
    client: httpx.AsyncClient
    access: str = ""
    refresh: str = ""
    torrent_id: str = ""
    blocked_until: dict[str, float] = field(default_factory=dict)  # route -> monotonic (Retry-After)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


async def timed(stats: Stats, route: str, request: Any) -> httpx.Response | None:
    began = time.perf_counter()
    try:
        response: httpx.Response = await request
    except httpx.HTTPError as exc:
        stats.record(route, f"exc:{type(exc).__name__}", time.perf_counter() - began)
        return None
    stats.record(route, str(response.status_code), time.perf_counter() - began)
    return response


def search_query(rng: random.Random) -> dict[str, str]:
    words = rng.sample(WORDS, rng.choice((1, 1, 2)))
    if rng.random() < 0.3:
        words.append(rng.choice(TAGS))
    params = {"q": " ".join(words), "limit": str(rng.choice((10, 20, 50)))}
    if rng.random() < 0.3:
        params["sort"] = rng.choice(("seeders", "newest"))
    return params


async def api_op(route: str, user: User, stats: Stats, rng: random.Random) -> httpx.Response | None:
    c = user.client
    if route == "login":
        creds = {"email": user.email, "password": user.password}
        r = await timed(stats, route, c.post("/api/v1/auth/login", json=creds))
    elif route == "refresh":
        r = await timed(stats, route, c.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh}))
    elif route == "search":
        r = await timed(stats, route, c.get("/api/v1/torrents/search", params=search_query(rng), headers=user.headers))
    else:
        r = await timed(stats, route, c.get(f"/api/v1/torrents/{user.torrent_id}", headers=user.headers))
    if r is not None and r.status_code == 200 and route in ("login", "refresh"):
        body = r.json()  # keep the newest pair: the rotated refresh token is dead
        user.access, user.refresh = body["access_token"], body["refresh_token"]
    return r


async def api_loop(user: User, stats: Stats, end: float, think: float, seed: int) -> None:
    rng = random.Random(seed)
    routes, weights = list(MIX), list(MIX.values())
    while time.monotonic() < end:
        route = rng.choices(routes, weights)[0]
        if user.blocked_until.get(route, 0) > time.monotonic():
            await asyncio.sleep(min(0.05, think))
            continue
        r = await api_op(route, user, stats, rng)
        if r is not None and r.status_code == 429:  # a real client backs off as told
            user.blocked_until[route] = time.monotonic() + float(r.headers.get("Retry-After", "1"))
        if think:
            await asyncio.sleep(rng.uniform(0, 2 * think))


async def stream_loop(user: User, media: Media, stats: Stats, end: float, seed: int) -> None:
    rng = random.Random(seed)
    index = media.file_index("movie.mp4")
    content = media.files["movie.mp4"]
    url = ""
    while time.monotonic() < end:
        if not url:
            path = f"/api/v1/torrents/{user.torrent_id}/files/{index}/stream"
            r = await timed(stats, "stream_url", user.client.post(path, headers=user.headers))
            if r is None or r.status_code != 200:
                await asyncio.sleep(1)
                continue
            url = r.json()["url"]
        length = rng.randint(1 * MiB, 4 * MiB)
        start = rng.randrange(0, len(content) - length)
        headers = {"Range": f"bytes={start}-{start + length - 1}"}
        r = await timed(stats, "stream_read", user.client.get(url, headers=headers))
        if r is None or r.status_code != 206:
            url = "" if r is not None and r.status_code in (401, 403, 410) else url
            await asyncio.sleep(0.2)
            continue
        stats.stream_bytes += len(r.content)
        if r.content != content[start : start + length]:
            stats.mismatches += 1


def proc_status(pid: int) -> dict[str, int]:
    wanted = ("VmRSS", "RssAnon", "RssFile", "VmHWM", "Threads")
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in wanted:
            values[key] = int(rest.split()[0])
    values["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    ticks = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    values["cpu_ticks"] = int(ticks[11]) + int(ticks[12])  # utime + stime
    return values


async def sample_rss(pid: int, end: float, samples: list[dict[str, int]], every: float = 10.0) -> None:
    while time.monotonic() < end:
        await asyncio.sleep(min(every, max(0.0, end - time.monotonic())))
        samples.append(proc_status(pid))


# --- setup: database, service, media, catalog, users -------------------------------------------
def write_catalog(path: Path, rows: int, seed: int) -> None:
    rng = random.Random(seed)
    lines = ["infohash;name;size_bytes;created_unix;seeders;leechers;completed;scraped_date"]
    for i in range(rows):
        name = " ".join(rng.sample(WORDS, 3)).title() + f" {rng.choice(TAGS)} {i}"
        seeds = rng.randint(0, 5000)
        lines.append(
            f"{rng.randbytes(20).hex()};{name};{rng.randint(10**6, 10**10)};{1_600_000_000 + i * 60};"
            f"{seeds};{rng.randint(0, 500)};{rng.randint(0, 9999)};1700000000"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


async def pg_admin(statement: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    connection = await asyncpg.connect(PG_ADMIN, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def service_env(work: Path, database: str, prefix: str, rate_limits: bool, log_level: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TS_")}
    env.update(
        {
            "TS_DATA_DIR": str(work / "data"),
            "TS_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}",
            "TS_REDIS_URL": REDIS_URL,
            "TS_REDIS_KEY_PREFIX": prefix,
            "TS_SECRET_KEY": secrets.token_urlsafe(48),
            "TS_ENCRYPTION_KEYS": new_encryption_key_entry(),
            "TS_TRUSTED_HOSTS": "127.0.0.1,localhost",
            "TS_ENGINE": "libtorrent",
            "TS_ENGINE_ALLOW_PRIVATE_NETWORKS": "true",
            "TS_ENGINE_ENABLE_DHT": "false",
            "TS_ENGINE_ENABLE_UTP": "false",
            "TS_ENGINE_LISTEN_INTERFACES": "127.0.0.1:0",
            "TS_RATE_LIMIT_ENABLED": "true" if rate_limits else "false",
            "TS_LOG_LEVEL": log_level,
        }
    )
    return env


def cli(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "torrent_streamer", *args], env=env, capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"torrent-streamer {' '.join(args)} failed:\n{done.stderr.decode()[-3000:]}")


def start_service(env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "torrent_streamer", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log:
        return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def stop_service(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


async def wait_serving(base: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError("the service exited during start-up (see its log)")
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("the service did not start")


async def make_user(n: int, base: str, magnet: str) -> User:
    ip = f"127.0.0.{10 + n}"
    transport = httpx.AsyncHTTPTransport(local_address=ip, limits=httpx.Limits(max_connections=8))
    user = User(
        ip,
        f"load-{n}-{secrets.token_hex(3)}@example.test",
        f"Lq7!{secrets.token_urlsafe(12)}-Zx",
        httpx.AsyncClient(base_url=base, transport=transport, timeout=60),
    )
    creds = {"email": user.email, "password": user.password}
    assert (await user.client.post("/api/v1/auth/register", json=creds)).status_code == 201
    tokens = (await user.client.post("/api/v1/auth/login", json=creds)).json()
    user.access, user.refresh = tokens["access_token"], tokens["refresh_token"]
    added = await user.client.post("/api/v1/torrents", json={"magnet": magnet}, headers=user.headers)
    assert added.status_code == 201, added.text
    user.torrent_id = added.json()["id"]
    return user


async def warm_up(user: User, media: Media, timeout: float = 600) -> float:
    """Wait until the file is complete, then read it once over HTTP (checks every byte)."""
    began = time.monotonic()
    while True:
        status = (await user.client.get(f"/api/v1/torrents/{user.torrent_id}", headers=user.headers)).json()
        if status["progress"] >= 1.0:
            break
        if time.monotonic() - began > timeout or status["state"] == "error":
            raise RuntimeError(f"the torrent did not complete: {status}")
        await asyncio.sleep(0.5)
    index = media.file_index("movie.mp4")
    path = f"/api/v1/torrents/{user.torrent_id}/files/{index}/stream"
    url = (await user.client.post(path, headers=user.headers)).json()["url"]
    body = (await user.client.get(url)).content
    assert body == media.files["movie.mp4"], "warm-up read differs from the seeded file"
    return time.monotonic() - began


# --- report ---------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> str:
    """The q-quantile in milliseconds (nearest rank), or a dash without samples."""
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.1f}" if ordered else "–"


def report(stats: Stats, seconds: float, rss: list[dict[str, int]], meta: dict[str, Any]) -> tuple[str, int]:
    rows = [
        "| route | requests | req/s | 2xx | 2xx p50 / p95 / p99 ms | 429 (intended) | 429 p50 ms | other errors |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | --- |",
    ]
    unintended, total = 0, 0
    for route in (*API_ROUTES, "stream_url", "stream_read"):
        counts = stats.statuses.get(route, Counter())
        n = sum(counts.values())
        total += n
        ok = sum(v for k, v in counts.items() if k.startswith("2"))
        errors = {k: v for k, v in counts.items() if not k.startswith("2") and k != "429"}
        unintended += sum(errors.values())
        lat = stats.samples.get(route, [])
        limited = stats.limited_latency.get(route, [])
        rows.append(
            f"| {route} | {n} | {n / seconds:.1f} | {ok} | {pct(lat, 0.5)} / {pct(lat, 0.95)} / "
            f"{pct(lat, 0.99)} | {counts.get('429', 0)} | {pct(limited, 0.5)} | "
            f"{', '.join(f'{k}: {v}' for k, v in sorted(errors.items())) or '0'} |"
        )
    rows.append(f"| **all** | {total} | {total / seconds:.1f} | | | | | {unintended} |")
    unintended += stats.mismatches
    first, last = rss[0], rss[-1]
    peak = max(s["VmRSS"] for s in rss)

    def growth(key: str) -> str:
        return f"{first[key] / 1024:.0f} → {last[key] / 1024:.0f} MiB ({(last[key] - first[key]) / first[key]:+.1%})"

    def growth_from(a: dict[str, int], b: dict[str, int]) -> str:
        return f"{a['VmRSS'] / 1024:.0f} → {b['VmRSS'] / 1024:.0f} MiB ({(b['VmRSS'] - a['VmRSS']) / a['VmRSS']:+.1%})"

    cpu = (last["cpu_ticks"] - first["cpu_ticks"]) / os.sysconf("SC_CLK_TCK") / seconds
    lines = [
        f"Scenario: **{meta['scenario']}**; {meta['users']} users, {meta['streams']} streams, "
        f"{meta['file']}; {seconds:.0f} s timed, think time {meta['think']} s; load average before / after: "
        f"{meta['load_before']} / {meta['load_after']}; service CPU {cpu:.0%} of one core.",
        "",
        *rows,
        "",
        f"- Stream throughput: **{stats.stream_bytes / MiB / seconds:.1f} MiB/s** over {meta['streams']} streams "
        f"({stats.stream_bytes / MiB:.0f} MiB read), content mismatches: {stats.mismatches}",
        f"- Unintended errors (non-2xx other than 429, transport errors, mismatches): **{unintended}**",
        f"- Service VmRSS: **{growth('VmRSS')}**, max sampled {peak / 1024:.0f} MiB ({len(rss)} samples every 10 s); "
        f"RssAnon {growth('RssAnon')}; RssFile {growth('RssFile')}",
        f"- VmRSS every 10 s (MiB): {' '.join(str(s['VmRSS'] // 1024) for s in rss)}; after the first minute "
        f"→ end: {growth_from(rss[min(6, len(rss) - 1)], last)}",
        f"- Threads {first['Threads']} → {last['Threads']}, open fds {first['fds']} → {last['fds']}; "
        f"error lines in the service log: {meta['log_errors']}",
    ]
    return "\n".join(lines), unintended


# --- main -----------------------------------------------------------------------------------
async def run(args: argparse.Namespace) -> str:
    run_id = secrets.token_hex(4)
    work = Path(tempfile.mkdtemp(prefix=f"load-{run_id}-"))
    database, prefix = f"ts_load_{run_id}", f"ts_load_{run_id}"
    env = service_env(work, database, prefix, args.rate_limits, args.log_level)
    env.update(item.split("=", 1) for item in args.service_env)
    await pg_admin(f'CREATE DATABASE "{database}"')
    process: subprocess.Popen[bytes] | None = None
    seeder: Seeder | None = None
    users: list[User] = []
    keep = True  # the work directory (service log, media) stays for a failed or erroneous run
    try:
        cli(env, "migrate")
        write_catalog(work / "catalog.csv", args.catalog_rows, seed=1)
        cli(env, "catalog", "import", str(work / "catalog.csv"), "--no-progress")
        swarm.PIECE = args.piece_kib * 1024  # make_media reads the module's piece size
        media = make_media(work / "seed", mdat=args.file_mib * MiB, seed=3)
        seeder = Seeder(media)
        port = free_port()
        process = start_service(env, port, work / "service.log")
        base = f"http://127.0.0.1:{port}"
        await wait_serving(base, process)
        magnet = f"magnet:?xt=urn:btih:{media.info_hash}&dn={media.name}&x.pe=127.0.0.1:{seeder.port}"
        users = [await make_user(n, base, magnet) for n in range(args.users)]
        warm = await warm_up(users[0], media)
        print(f"setup done: {args.catalog_rows} catalog rows, {args.users} users, file complete+read in {warm:.1f} s")
        stats, rss = Stats(), [proc_status(process.pid)]
        load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
        began = time.monotonic()
        end = began + args.duration
        tasks = [api_loop(u, stats, end, args.think, seed=i) for i, u in enumerate(users)]
        tasks += [stream_loop(users[i % len(users)], media, stats, end, seed=100 + i) for i in range(args.streams)]
        await asyncio.gather(sample_rss(process.pid, end, rss), *tasks)
        seconds = time.monotonic() - began
        rss.append(proc_status(process.pid))
        log_text = (work / "service.log").read_text(errors="replace")
        scenario = "rate limits ON (production settings)" if args.rate_limits else "rate limits OFF (labelled)"
        meta = {
            "scenario": " + ".join([scenario, *args.service_env]),
            "users": args.users,
            "streams": args.streams,
            "think": args.think,
            "file": f"{args.file_mib} MiB file in {args.piece_kib} KiB pieces",
            "load_before": load_before,
            "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "log_errors": sum('"level": "error"' in line or "Traceback" in line for line in log_text.splitlines()),
        }
        markdown, unintended = report(stats, seconds, rss, meta)
        print(markdown)
        keep = unintended > 0
        return markdown
    finally:
        for user in users:
            await user.client.aclose()
        if process is not None:
            stop_service(process)
        if seeder is not None:
            seeder.close()
        await pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await drop_redis_prefix(prefix)
        if keep:
            print(f"work directory and service log kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


async def drop_redis_prefix(prefix: str) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600, help="timed phase, seconds")
    parser.add_argument("--users", type=int, default=10, help="virtual users (one loopback address each)")
    parser.add_argument("--streams", type=int, default=10, help="concurrent stream readers")
    parser.add_argument("--think", type=float, default=0.05, help="mean pause between a user's API calls, s")
    parser.add_argument("--file-mib", type=int, default=64)
    parser.add_argument("--piece-kib", type=int, default=swarm.PIECE // 1024, help="piece size of the media")
    parser.add_argument("--catalog-rows", type=int, default=5000)
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--no-rate-limits", dest="rate_limits", action="store_false", help="labelled scenario")
    parser.add_argument("--service-env", action="append", default=[], help="KEY=VALUE for the service (diagnosis)")
    parser.add_argument("--markdown", type=Path, help="also write the markdown result here")
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    markdown = asyncio.run(run(args))
    header = (
        f"Run {started}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"`{' '.join(['uv run python -m bench.load', *sys.argv[1:]])}`\n\n"
    )
    if args.markdown:
        args.markdown.write_text(header + markdown + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
