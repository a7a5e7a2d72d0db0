"""Three real nodes behind HAProxy (Debian's, with the shipped deploy/haproxy/haproxy.cfg),
sharing PostgreSQL and Redis, streaming from a libtorrent seeder on loopback: a stream through the
balancer is byte-exact, exactly one node holds the torrent, and after that node is SIGKILLed the
same stream URL serves the end of the file from a survivor; the library and sign-in survive.

The interruption (SIGKILL to the first exact byte from a survivor) is printed and recorded as the
test property ``failover_seconds``; the test bounds it only with a generous wait.
"""

from __future__ import annotations

import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import support
from tests.engine.swarm import Media, Seeder, make_media
from tests.verification.service import ServiceProcess

pytestmark = [pytest.mark.engine, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
NODES = ("node1", "node2", "node3")
CHUNK = 64 * 1024
STARTUP_SECONDS = 240.0


@dataclass
class Balancer:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def render_haproxy(ports: dict[str, int], listen: int) -> str:
    """The shipped config with its servers on loopback ports and its bind on ``listen``."""
    text = (ROOT / "deploy/haproxy/haproxy.cfg").read_text(encoding="utf-8")
    text = text.replace("    bind :8000", f"    bind 127.0.0.1:{listen}")
    for name, port in ports.items():
        text = re.sub(rf"(?m)^(\s+server {name}) \S+.*$", rf"\1 127.0.0.1:{port}", text)
    assert text.count("127.0.0.1:") == 2 * len(ports) + 1
    return text


def wait_until(check: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"not within {timeout}s: {what}")


@pytest.fixture
def seeder(tmp_path: Path) -> Iterator[tuple[Media, Seeder]]:
    media = make_media(tmp_path / "seed", mdat=4 * 1024 * 1024, seed=14)
    seeding = Seeder(media)
    try:
        yield media, seeding
    finally:
        seeding.close()


@pytest.fixture
def cluster(
    service_factory: Callable[..., ServiceProcess], tmp_path: Path
) -> Iterator[tuple[Balancer, dict[str, ServiceProcess]]]:
    if support.TEST_DB != "postgres" or not support.USE_REDIS:
        pytest.skip("a cluster shares PostgreSQL and Redis (TS_TEST_DB=postgres TS_TEST_REDIS=1)")
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(binary).exists():
        pytest.fail("haproxy is not installed: scripts/test.sh and .ci/run install it (apt-get install haproxy)")
    listen = support.free_port()
    prefix = f"ts-test-{support.RUN_ID}-cluster-{secrets.token_hex(3)}"
    nodes = {
        name: service_factory(
            name,
            TS_ENGINE="libtorrent",
            TS_ENGINE_LISTEN_INTERFACES="127.0.0.1:0",
            TS_NODE_NAME=name,
            TS_CLUSTER_ENABLED="true",
            TS_CLUSTER_LEASE_SECONDS="5",
            TS_REDIS_KEY_PREFIX=prefix,
            TS_PUBLIC_URL=f"http://127.0.0.1:{listen}",
            start=False,
        )
        for name in NODES
    }
    for node in nodes.values():  # start all three, then wait: a shared machine starts them slowly
        node.spawn()
    for node in nodes.values():
        node.wait_until_serving(STARTUP_SECONDS)
    config = tmp_path / "haproxy.cfg"
    config.write_text(render_haproxy({name: node.port for name, node in nodes.items()}, listen), encoding="utf-8")
    log_path = tmp_path / "haproxy.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen([binary, "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT)
    balancer = Balancer(listen, process, log_path)
    try:

        def all_up() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", listen), timeout=0.5):
                    pass
                return httpx.get(f"{balancer.base_url}/readyz", timeout=2).status_code == 200
            except (OSError, httpx.HTTPError):
                return False

        wait_until(all_up, timeout=30, what="HAProxy answers /readyz")
        yield balancer, nodes
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def engine_torrents(node: ServiceProcess) -> int | None:
    """The node's ``ts_engine_torrents`` gauge (None when the node does not answer)."""
    try:
        text = httpx.get(f"{node.base_url}/metrics", timeout=3).text
    except httpx.HTTPError:
        return None
    match = re.search(r"(?m)^ts_engine_torrents (\S+)$", text)
    return int(float(match.group(1))) if match else None


def holders(nodes: dict[str, ServiceProcess]) -> dict[str, int | None]:
    return {name: engine_torrents(node) for name, node in nodes.items()}


def exactly_one_holds(nodes: dict[str, ServiceProcess]) -> str | None:
    counts = holders(nodes)
    held = [name for name, count in counts.items() if count == 1]
    return held[0] if len(held) == 1 and all(c == 0 for n, c in counts.items() if n != held[0]) else None


def ranged(url: str, start: int, end: int, timeout: float = 30) -> httpx.Response:
    return httpx.get(url, headers={"Range": f"bytes={start}-{end}"}, timeout=timeout)


def test_three_nodes_one_swarm_failover_keeps_the_stream_and_the_library(
    cluster: tuple[Balancer, dict[str, ServiceProcess]],
    seeder: tuple[Media, Seeder],
    record_property: Callable[[str, object], None],
) -> None:
    balancer, nodes = cluster
    media, seeding = seeder
    movie = media.files["movie.mp4"]
    index = media.file_index("movie.mp4")
    email, password = f"cluster-{secrets.token_hex(5)}@example.test", f"Kx9!{secrets.token_urlsafe(12)}-Lm"
    with httpx.Client(base_url=balancer.base_url, timeout=60) as api:
        assert api.post("/api/v1/auth/register", json={"email": email, "password": password}).status_code == 201
        tokens = api.post("/api/v1/auth/login", json={"email": email, "password": password}).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        magnet = f"magnet:?xt=urn:btih:{media.info_hash}&dn={media.name}&x.pe=127.0.0.1:{seeding.port}"
        added = api.post("/api/v1/torrents", json={"magnet": magnet}, headers=headers)
        assert added.status_code == 201, added.text
        torrent_id = added.json()["id"]
        issued = api.post(f"/api/v1/torrents/{torrent_id}/files/{index}/stream", headers=headers)
        assert issued.status_code == 200, issued.text
        url = issued.json()["url"]
    assert url.startswith(f"{balancer.base_url}/api/v1/stream/{media.info_hash}/")

    # 1. through the balancer, exact at the start and in the middle
    start = ranged(url, 0, CHUNK - 1, timeout=60)
    assert start.status_code == 206, start.text
    assert start.content == movie[:CHUNK]
    middle_at = len(movie) // 2
    middle = ranged(url, middle_at, middle_at + CHUNK - 1, timeout=60)
    assert middle.status_code == 206
    assert middle.content == movie[middle_at : middle_at + CHUNK]

    # 2. exactly one node holds it (each node's own ts_engine_torrents)
    holder = wait_until(lambda: exactly_one_holds(nodes), timeout=60, what=f"one holder; saw {holders(nodes)}")

    # the status answers on every node, from the holder's publication
    for name, node in nodes.items():
        detail = httpx.get(f"{node.base_url}/api/v1/torrents/{torrent_id}", headers=headers, timeout=10)
        assert detail.status_code == 200, (name, detail.text)
        assert [f["name"] for f in detail.json()["files"]], name  # files are known only from live status

    # 3. SIGKILL the holder
    nodes[holder].kill()
    killed_at = time.monotonic()

    # 4. the same URL serves exact bytes at the end of the file from a survivor
    end_at = len(movie) - CHUNK

    def end_served() -> bool:
        try:
            response = ranged(url, end_at, len(movie) - 1)
        except httpx.HTTPError:
            return False
        return response.status_code == 206 and response.content == movie[end_at:]

    wait_until(end_served, timeout=120, what="a survivor serves the end of the file", interval=0.1)
    failover_seconds = time.monotonic() - killed_at
    record_property("failover_seconds", round(failover_seconds, 2))
    print(f"\nfailover: SIGKILL to exact bytes from a survivor in {failover_seconds:.2f} s")

    # 5. exactly one survivor holds it; the library is intact; sign-in works
    survivors = {name: node for name, node in nodes.items() if name != holder}
    wait_until(lambda: exactly_one_holds(survivors), timeout=60, what=f"one survivor holds; saw {holders(survivors)}")
    with httpx.Client(base_url=balancer.base_url, timeout=30) as api:
        for _ in survivors:  # round-robin: every survivor answers
            library = api.get("/api/v1/torrents", headers=headers)
            assert library.status_code == 200, library.text
            assert [item["id"] for item in library.json()["items"]] == [torrent_id]
        again = api.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert again.status_code == 200, again.text
        fresh = {"Authorization": f"Bearer {again.json()['access_token']}"}
        assert api.get(f"/api/v1/torrents/{torrent_id}", headers=fresh).status_code == 200
