"""Engine faults on the running service: ``kill -9`` mid-download, and a full download disk.

The service runs as a subprocess with the real libtorrent engine; a loopback seeder in this
process serves a throttled torrent, reached through the magnet's ``x.pe`` peer address.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.engine.swarm import Media, Seeder, make_media
from tests.verification.service import ServiceProcess

pytestmark = [pytest.mark.engine, pytest.mark.slow]

ENGINE_ENV = {
    "TS_ENGINE": "libtorrent",
    "TS_ENGINE_LISTEN_INTERFACES": "127.0.0.1:0",
    "TS_ENGINE_RESUME_SAVE_INTERVAL": "1",
}


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def sign_in(client: httpx.Client) -> dict[str, str]:
    email, password = f"fault-{secrets.token_hex(5)}@example.test", f"Kx9!{secrets.token_urlsafe(12)}-Lm"
    assert client.post("/api/v1/auth/register", json={"email": email, "password": password}).status_code == 201
    tokens = client.post("/api/v1/auth/login", json={"email": email, "password": password}).json()
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def add_magnet(client: httpx.Client, headers: dict[str, str], media: Media, seeder: Seeder) -> str:
    magnet = f"magnet:?xt=urn:btih:{media.info_hash}&dn={media.name}&x.pe=127.0.0.1:{seeder.port}"
    response = client.post("/api/v1/torrents", json={"magnet": magnet}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def status(client: httpx.Client, headers: dict[str, str], torrent_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/torrents/{torrent_id}", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture
def media(tmp_path: Path) -> Media:
    return make_media(tmp_path / "seed", mdat=6 * 1024 * 1024, seed=7)


@pytest.fixture
def seeder(media: Media) -> Iterator[Seeder]:
    seeder = Seeder(media, upload_rate_limit=1024 * 1024)
    yield seeder
    seeder.close()


def test_kill_9_mid_download_keeps_verified_pieces_and_the_library(
    service_factory: Callable[..., ServiceProcess], media: Media, seeder: Seeder
) -> None:
    service = service_factory("kill9", **ENGINE_ENV)
    resume_dir = service.data_dir / "engine" / "resume"
    with httpx.Client(base_url=service.base_url, timeout=30) as client:
        headers = sign_in(client)
        torrent_id = add_magnet(client, headers, media, seeder)
        reached = wait_for(
            lambda: (s := status(client, headers, torrent_id))["progress"] >= 0.3 and s, "30 % downloaded"
        )
        observed_at = time.time()
        wait_for(
            lambda: any(p.stat().st_mtime > observed_at for p in resume_dir.glob("*.fastresume")),
            "a resume save after that point",
        )
        seeder.handle.pause()  # from here on nothing can be downloaded again
        service.kill()

    service.start()
    with httpx.Client(base_url=service.base_url, timeout=30) as client:
        library = client.get("/api/v1/torrents", headers=headers)
        assert library.status_code == 200
        assert [item["id"] for item in library.json()["items"]] == [torrent_id]
        after = wait_for(
            lambda: (s := status(client, headers, torrent_id))["state"] not in ("checking", "metadata") and s,
            "the restarted engine to check its pieces",
        )
        # The seeder is paused, so whatever progress there is came from disk: verified pieces
        # survived kill -9 (the engine suite also proves none is downloaded twice).
        assert after["progress"] >= reached["progress"] - 0.01
        assert after["state"] != "error"


@pytest.fixture
def tiny_download_disk(tmp_path: Path) -> Iterator[Path]:
    data_dir = tmp_path / "diskfull"
    downloads = data_dir / "downloads"
    downloads.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(downloads)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        message = f"cannot mount a small tmpfs (needs root): {mounted.stderr.decode().strip()}"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    yield data_dir
    subprocess.run(["umount", "-l", str(downloads)], capture_output=True, check=False)


def test_a_full_download_disk_is_a_clear_error_and_the_api_stays_up(
    service_factory: Callable[..., ServiceProcess], media: Media, seeder: Seeder, tiny_download_disk: Path
) -> None:
    service = ServiceProcess(tiny_download_disk, dict(service_factory("unused", start=False).env_overrides))
    service.env_overrides.update(ENGINE_ENV)
    service.start()
    try:
        with httpx.Client(base_url=service.base_url, timeout=30) as client:
            headers = sign_in(client)
            torrent_id = add_magnet(client, headers, media, seeder)
            failed = wait_for(
                lambda: (s := status(client, headers, torrent_id))["state"] == "error" and s, "the disk-full error"
            )
            assert "disk space" in failed["error"]
            assert "/" not in failed["error"]  # no paths leak
            assert client.get("/healthz").status_code == 200
            assert client.get("/api/v1/torrents", headers=headers).status_code == 200
            assert client.get("/api/v1/me", headers=headers).status_code == 200
    finally:
        service.stop()
