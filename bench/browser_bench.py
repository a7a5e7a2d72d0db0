"""Time to first frame in headless Chromium (by hand, never in CI): from the add-torrent API call to
the first frame a `<video>` renders (`requestVideoFrameCallback`), and from a seek to 60 % to the
next frame; beside the same clip from nginx (complete file, sendfile) in the same run.

Run: ``uv run python bench/browser_bench.py [--seconds 0] [--piece-kib 32] [--reps 3] [--seed-rate-mib 0]``
The clip: the committed 40 s sample MP4, or with ``--seconds N`` an ffmpeg H.264 MP4 (1280x720, 6 Mbit/s,
``moov`` first, as most releases are). Each service is warmed by another torrent first (start_bench).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import libtorrent as lt
from playwright.async_api import Page, async_playwright
from start_bench import add_and_url, magnet_of, serve, warm_up
from stream_bench import Nginx, Seeder, make_media, make_torrent
from stream_workers import Layout
from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS
from tracker import Tracker

# Resolves with [ms from call to first frame (epoch ms at first frame), ms from seek to next frame].
PLAY = """async (src) => {
  const v = document.createElement('video');
  v.muted = true; v.playsInline = true; document.body.appendChild(v);
  const failed = new Promise((_, reject) => {
    v.addEventListener('error', () => reject(new Error('video error ' + (v.error && v.error.code))));
    setTimeout(() => reject(new Error('no frame: readyState ' + v.readyState)), 60000);
  });
  const first = new Promise(r => v.requestVideoFrameCallback(() => r(Date.now())));
  v.src = src; v.play().catch(() => {});
  const shown = await Promise.race([first, failed]);
  const seekFrame = new Promise(r => v.addEventListener('seeked',
      () => v.requestVideoFrameCallback(() => r(Date.now())), {once: true}));
  const began = Date.now();
  v.currentTime = v.duration * 0.6;
  const next = await Promise.race([seekFrame, failed]);
  return [shown, next - began];
}"""


SAMPLE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "media" / "sample.mp4"


def make_clip(root: Path, seconds: int) -> Path:
    """The committed 40 s sample MP4 (H.264 320x240), or with `seconds` > 0 an ffmpeg H.264 clip."""
    top = root / "Bench"
    top.mkdir(parents=True, exist_ok=True)
    (top / "info.nfo").write_bytes(b"benchmark media\n")
    if seconds <= 0:
        clip = top / "movie.mp4"
        shutil.copyfile(SAMPLE, clip)
        return clip
    clip = top / "movie.mp4"
    source = f"testsrc2=size=1280x720:rate=30:duration={seconds}"
    cmd = ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source, "-c:v", "libx264", "-preset"]
    cmd += ["ultrafast", "-pix_fmt", "yuv420p", "-g", "60", "-b:v", "6M", "-maxrate", "6M", "-bufsize", "12M"]
    cmd += ["-movflags", "+faststart", str(clip)]
    subprocess.run(cmd, check=True, timeout=900)
    return clip


async def play(page: Page, url: str) -> tuple[float, float]:
    """(epoch seconds of the first frame, seconds from seek to the next frame)."""
    # Same origin as the media (the service sends Cross-Origin-Resource-Policy: same-origin); the
    # context bypasses the service's CSP, which allows no inline media page of ours.
    parts = urlsplit(url)
    await page.goto(f"{parts.scheme}://{parts.netloc}/")
    shown, seek_ms = await page.evaluate(PLAY, url)
    return shown / 1000, seek_ms / 1000


async def main(seconds: int, piece_kib: int, reps: int, seed_rate_mib: int) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix="browser-bench-"))
    clip = make_clip(base / "media", seconds)
    tracker = Tracker([])
    torrent = make_torrent(base / "media", piece_kib * 1024, tracker.url)
    seeder = Seeder(base / "media", torrent)
    if seed_rate_mib:
        seeder.throttle(seed_rate_mib * 2**20)
    tracker.peers = [("127.0.0.1", seeder.port)]
    warm_tracker = Tracker([])
    make_media(base / "warm", 4 * 2**20, seconds=4, seed=7)
    warm_torrent = make_torrent(base / "warm", 256 * 1024, warm_tracker.url)
    warm_seeder = Seeder(base / "warm", warm_torrent)
    warm_tracker.peers = [("127.0.0.1", warm_seeder.port)]
    warm = (magnet_of(warm_torrent, warm_tracker), Layout(warm_torrent).index)
    nginx = Nginx(base / "nginx", base / "media")
    origin = f"http://127.0.0.1:{nginx.port}/"
    nginx_url = f"{origin}Bench/{clip.name}"
    lay = Layout(torrent)
    magnet = f"magnet:?xt=urn:btih:{lt.torrent_info(torrent).info_hashes().v1}&tr={quote(tracker.url, safe='')}"
    samples: dict[str, list[float]] = {"nginx_first_frame": [], "nginx_seek": [], "first_frame": [], "seek": []}
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            context = await browser.new_context(bypass_csp=True)
            for rep in range(reps):
                page = await context.new_page()
                t0 = time.time()
                shown, seek = await play(page, nginx_url)
                samples["nginx_first_frame"].append(shown - t0)
                samples["nginx_seek"].append(seek)
                await page.close()
                async with serve(base / f"svc-{rep}") as (client, auth, app):
                    await warm_up(client, auth, app, *warm)
                    page = await context.new_page()
                    t0 = time.time()
                    url = await add_and_url(client, auth, magnet, lay.index)
                    shown, seek = await play(page, url)
                    samples["first_frame"].append(shown - t0)
                    samples["seek"].append(seek)
                    await page.close()
                print(f"rep {rep}: { ({k: round(v[-1], 3) for k, v in samples.items()}) }", file=sys.stderr, flush=True)
            await browser.close()
    finally:
        nginx.close()
        seeder.close()
        tracker.close()
        warm_seeder.close()
        warm_tracker.close()
    out: dict[str, Any] = {
        "clip": f"{clip.name} {lay.size / 2**20:.2f} MiB",
        "piece_kib": piece_kib,
        "seed_rate_mib_s": seed_rate_mib or "unthrottled",
    }
    for key, values in samples.items():
        out[key] = {"median_ms": round(statistics.median(values) * 1000), "min_ms": round(min(values) * 1000),
                    "max_ms": round(max(values) * 1000)}  # fmt: skip
    for key in ("first_frame", "seek"):
        out[f"{key}_ratio_to_nginx"] = round(out[key]["median_ms"] / max(1, out[f"nginx_{key}"]["median_ms"]), 2)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=0, help="0: the committed sample MP4")
    parser.add_argument("--piece-kib", type=int, default=32)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seed-rate-mib", type=int, default=0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.seconds, args.piece_kib, args.reps, args.seed_rate_mib)), indent=2))
