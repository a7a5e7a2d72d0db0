"""Time to first frame in Chromium through the real web app (by hand, never in CI): direct vs HLS remux
vs HLS transcode, and seek to an uncached point.

Each (run, case) gets a fresh service (libtorrent engine, SQLite, nothing cached) on loopback and a
fresh page: sign in, add the clips' magnet (metadata from a loopback seeder throttled to
``--seed-rate-mib``), then the clock starts at the click on "Play <clip>" (what a person waits for
once the title is listed) and stops at the first frame the `<video>` presents
(`requestVideoFrameCallback`). Seek: ``currentTime = 0.7 × duration`` → the next presented frame.
The cases are interleaved within each run so machine load touches each alike; direct play is the
reference for the ratio.

Run: ``uv run python -m bench.playback_browser_bench [--runs 3] [--seed-rate-mib 20] --out /tmp/pbb.json``;
writes the JSON figures there (the service's own log lines share stdout).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.playback_bench import swarm
from playwright.async_api import Page, async_playwright
from tests import support
from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS, live_server
from tests.e2e.browser_accounts import make_account
from tests.engine.swarm import Seeder
from tests.media.clips import SECONDS

from torrent_streamer.core import migrate
from torrent_streamer.core.clock import FrozenClock

CASES = {"direct": "faststart.mp4", "remux": "h264-ac3.mkv", "transcode": "hevc-aac.mkv"}

# Armed before the click: resolves with performance.now() at the first presented frame of a new source.
ARM = """() => {
  const v = document.getElementById('video');
  window.__firstFrame = new Promise(resolve => {
    v.addEventListener('loadstart', () => v.requestVideoFrameCallback(() => resolve(performance.now())),
                       {once: true});
  });
}"""
SEEK = """async () => {
  const v = document.getElementById('video');
  const began = performance.now();
  const next = new Promise(resolve => v.addEventListener('seeked',
      () => v.requestVideoFrameCallback(() => resolve(performance.now())), {once: true}));
  v.currentTime = v.duration * 0.7;
  return (await next) - began;
}"""


async def one(page: Page, magnet: str, clip: str, email: str, password: str) -> dict[str, float]:
    await page.goto("/app")
    form = page.locator("#login-form")
    await form.get_by_label("E-mail").fill(email)
    await form.get_by_label("Password", exact=True).fill(password)
    await form.get_by_role("button", name="Sign in", exact=True).click()
    await page.get_by_role("button", name="Sign out").wait_for()
    await page.get_by_label("Magnet link").fill(magnet)
    await page.locator("#magnet-form").get_by_role("button", name="Add", exact=True).click()
    play = page.locator("#library-list li", has_text="Clips").get_by_role("button", name=f"Play {clip}", exact=True)
    await play.wait_for(timeout=60_000)
    await page.evaluate(ARM)
    clicked = await page.evaluate("() => performance.now()")
    await play.click()
    shown = await asyncio.wait_for(page.evaluate("() => window.__firstFrame"), 90)
    await page.wait_for_function("() => document.getElementById('video').currentTime > 1", timeout=90_000)
    seek_ms = await asyncio.wait_for(page.evaluate(SEEK), 90)
    return {"first_frame_s": (shown - clicked) / 1000, "seek_s": seek_ms / 1000}


def summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3)}


async def main(runs: int, seed_rate_mib: float) -> dict[str, Any]:
    results: dict[str, list[dict[str, float]]] = {case: [] for case in CASES}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        media = swarm(root)
        seeder = Seeder(media, upload_rate_limit=int(seed_rate_mib * 1024 * 1024))
        magnet = f"magnet:?xt=urn:btih:{media.info_hash}&dn=Clips&x.pe=127.0.0.1:{seeder.port}"
        try:
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                for run in range(runs):
                    for case, clip in CASES.items():
                        data = root / f"{case}-{run}"
                        url = f"sqlite+aiosqlite:///{data / 'db.sqlite'}"
                        data.mkdir()
                        await asyncio.to_thread(migrate.upgrade, url)  # alembic runs its own loop
                        settings = support.make_settings(
                            data / "data", database_url=url, engine="libtorrent",
                            engine_listen_interfaces=f"127.0.0.1:{support.free_port()}",
                            trusted_hosts=["127.0.0.1", "localhost"], redis_url=None,
                        )  # fmt: skip
                        with live_server(settings, FrozenClock()) as live:
                            account = make_account(live)
                            context = await browser.new_context(base_url=live.base_url)
                            page = await context.new_page()
                            began = time.monotonic()
                            row = await one(page, magnet, clip, account.email, account.password)
                            row["whole_s"] = time.monotonic() - began
                            await context.close()
                        results[case].append(row)
                        print(f"run {run} {case}: {row}", flush=True, file=sys.stderr)
                await browser.close()
        finally:
            seeder.close()
    out: dict[str, Any] = {"runs": runs, "seed_rate_mib": seed_rate_mib, "clip_seconds": SECONDS,
                           "load_average_before": round(load_before, 2),
                           "load_average_after": round(os.getloadavg()[0], 2)}  # fmt: skip
    for case, rows in results.items():
        out[case] = {key: summary([r[key] for r in rows]) for key in ("first_frame_s", "seek_s")}
    ref = out["direct"]["first_frame_s"]["median"]
    for case in ("remux", "transcode"):
        median = out[case]["first_frame_s"]["median"]
        out[case]["first_frame_minus_direct_s"] = round(median - ref, 3)
        out[case]["first_frame_ratio_to_direct"] = round(median / ref, 2) if ref > 0 else None
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed-rate-mib", type=float, default=20.0)
    parser.add_argument("--out", type=Path, required=True, help="where the JSON figures go")
    args = parser.parse_args()
    args.out.write_text(json.dumps(asyncio.run(main(args.runs, args.seed_rate_mib)), indent=2) + "\n")
