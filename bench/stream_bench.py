"""Streaming benchmark (by hand, never in CI): cold TTFB, seek, first 16 MiB, warm throughput, RSS.

Each figure is a ratio against a reference in the same run (raw libtorrent reader, nginx).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import libtorrent as lt
from stream_workers import MULTI_REPEAT, SINGLE_REPEAT, MiB, proc_status
from tracker import Tracker

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKERS = HERE / "stream_workers.py"
NGINX = "/usr/sbin/nginx"
WARM_READERS = 8


# -- media, torrent and seeder -------------------------------------------------------------
def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def make_media(root: Path, size: int, seconds: int, seed: int = 4) -> Path:
    """A fake MP4 (ftyp, pseudo-random mdat, moov with mvhd at the end) and a small .nfo."""
    top = root / "Bench"
    top.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(seed)
    ftyp = _box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2avc1mp41")
    mvhd = _box(b"mvhd", b"\x00\x00\x00\x00" + struct.pack(">IIII", 0, 0, 1000, seconds * 1000) + bytes(80))
    moov = _box(b"moov", mvhd + _box(b"free", rnd.randbytes(200_000)))
    mdat_len = size - len(ftyp) - len(moov) - 8
    movie = top / "movie.mp4"
    with movie.open("wb") as f:
        f.write(ftyp + struct.pack(">I", 8 + mdat_len) + b"mdat")
        left = mdat_len
        while left:
            n = min(left, 8 * MiB)
            f.write(rnd.randbytes(n))
            left -= n
        f.write(moov)
    (top / "info.nfo").write_bytes(b"benchmark media\n" * 64)
    return movie


def make_torrent(root: Path, piece: int, tracker_url: str) -> bytes:
    files = sorted(p for p in (root / "Bench").iterdir() if p.is_file())
    entries = [lt.create_file_entry(f"Bench/{p.name}", p.stat().st_size) for p in files]
    ct = lt.create_torrent(entries, piece, lt.create_torrent.v1_only)
    ct.add_tracker(tracker_url)
    lt.set_piece_hashes(ct, str(root))
    return bytes(lt.bencode(ct.generate()))


class Seeder:
    """A loopback TCP seeding session (fully hash-checked before the first run)."""

    def __init__(self, root: Path, torrent: bytes) -> None:
        self.ses = lt.session(
            {
                "listen_interfaces": "127.0.0.1:0",
                "enable_dht": False,
                "enable_lsd": False,
                "enable_upnp": False,
                "enable_natpmp": False,
                "enable_outgoing_utp": False,
                "enable_incoming_utp": False,
                "allow_multiple_connections_per_ip": True,
                "alert_mask": int(lt.alert_category.status | lt.alert_category.error),
            }
        )
        atp = lt.add_torrent_params()
        atp.ti = lt.torrent_info(torrent)
        atp.save_path = str(root)
        atp.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
        # libtorrent puts loopback/LAN peers in the unthrottled "local" peer class; map every
        # address to the global class, or `upload_rate_limit` has no effect on loopback.
        classes = lt.ip_filter()
        classes.add_rule("0.0.0.0", "255.255.255.255", 1 << self.ses.global_peer_class_id)  # noqa: S104 - an address range, not a bind
        self.ses.set_peer_class_filter(classes)
        self.handle = self.ses.add_torrent(atp)
        end = time.monotonic() + 300
        while not (self.ses.listen_port() and self.handle.status().is_seeding):
            if time.monotonic() > end:
                raise TimeoutError("seeder did not finish checking")
            time.sleep(0.1)
        self.port = self.ses.listen_port()

    def throttle(self, rate: int) -> None:
        self.ses.apply_settings({"upload_rate_limit": rate})

    def close(self) -> None:
        self.ses.pause()
        del self.ses


# -- workers, nginx ---------------------------------------------------------------------
def worker(impl: str, phase: str, torrent: Path, media: Path, work: Path, reps: int) -> dict[str, Any]:
    cmd = [sys.executable, str(WORKERS), impl, phase, "--torrent", str(torrent), "--media", str(media)]
    cmd += ["--work", str(work), "--reps", str(reps)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{impl} {phase} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_port(port: int, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


class Nginx:
    """nginx as a child process: one worker (like the one-process service), sendfile on."""

    def __init__(self, work: Path, root: Path) -> None:
        work.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        user = "user root root;" if os.geteuid() == 0 else ""
        temps = "".join(f"{k}_temp_path {work}/{k};\n" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        conf = work / "nginx.conf"
        conf.write_text(
            f"{user}\nworker_processes 1;\ndaemon off;\npid {work}/nginx.pid;\n"
            f"error_log {work}/error.log;\nevents {{ worker_connections 256; }}\n"
            f"http {{\n access_log off;\n sendfile on;\n tcp_nopush on;\n{temps}"
            f" types {{ video/mp4 mp4; }}\n"
            f" server {{ listen 127.0.0.1:{self.port}; root {root}; location / {{ }} }}\n}}\n"
        )
        self.proc = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(work), "-e", str(work / "error.log")])
        wait_port(self.port)
        self.url = f"http://127.0.0.1:{self.port}/Bench/movie.mp4"

    def rss_mib(self) -> float:
        pids = [self.proc.pid]
        kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        pids += [int(p) for p in kids.read_text().split()]
        return sum(proc_status(p).get("VmHWM", 0) for p in pids) / 1024

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def curl_round(url: str, spans: list[tuple[int, int]], repeat: int) -> float:
    """Aggregate MiB/s of parallel `curl` processes, one per span, each GETting its Range
    `repeat` times on one connection (amortizes process start-up); checks every 206."""
    t0 = time.perf_counter()
    procs = []
    for a, b in spans:
        cmd = ["curl", "-sS", "-r", f"{a}-{b - 1}", "-w", "%{http_code} %{size_download}\\n"]
        cmd += [arg for _ in range(repeat) for arg in (url, "-o", "/dev/null")]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True))
    total = 0
    for p, (a, b) in zip(procs, spans, strict=True):
        out, _ = p.communicate(timeout=300)
        for line in out.splitlines():
            code, size = line.split()
            if code != "206" or int(size) != b - a:
                raise RuntimeError(f"curl got {line!r} for {a}-{b - 1}")
            total += int(size)
    if total != repeat * sum(b - a for a, b in spans):
        raise RuntimeError("curl transferred less than asked")
    return total / MiB / (time.perf_counter() - t0)


def http_warm(url: str, size: int, rounds: int) -> dict[str, float]:
    step = size // WARM_READERS
    spans = [(k * step, (k + 1) * step) for k in range(WARM_READERS)]
    single = [curl_round(url, [(0, size)], SINGLE_REPEAT) for _ in range(rounds)]
    multi = [curl_round(url, spans, MULTI_REPEAT) for _ in range(rounds)]
    return {"single": statistics.median(single), "multi": statistics.median(multi)}


# -- report -----------------------------------------------------------------------------
def summarize(reps: list[dict[str, float]]) -> dict[str, tuple[float, float]]:
    """(median, max) per figure; TTFB pools both sessions of each repetition."""
    samples: dict[str, list[float]] = {}
    for r in reps:
        for k, v in r.items():
            samples.setdefault("ttfb" if k == "ttfb2" else k, []).append(v)
    return {k: (statistics.median(v), max(v)) for k, v in samples.items()}


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    nginx = subprocess.run([NGINX, "-v"], capture_output=True, text=True, check=False).stderr.split("/")[-1].strip()
    return (
        f"{os.cpu_count()} cores / {mem:.0f} GiB / Python {platform.python_version()} / "
        f"libtorrent {lt.__version__} / nginx {nginx}"
    )


METRICS = [
    ("ttfb", "cold TTFB at offset 0 (2 sessions per run)"),
    ("seek", "cold seek TTFB at 60 %"),
    ("first16", "first 16 MiB"),
]
TARGET_TTFB = 1.2
TARGET_WARM = 0.5


def ms(x: float) -> str:
    return f"{x * 1000:.0f} ms"


def cold_table(res: dict[str, list[dict[str, float]]], rss: dict[str, list[dict[str, float]]]) -> list[str]:
    impls = list(res)
    ref = summarize(res["raw"])
    head = "| figure | " + " | ".join(f"{LABELS[i]} median / max" for i in impls)
    head += " | " + " | ".join(f"{LABELS[i]} ÷ (a) median / max" for i in impls if i != "raw") + " |"
    lines = [head, "|" + " --- |" * (1 + 2 * len(impls) - 1)]
    sums = {i: summarize(res[i]) for i in impls}
    for key, label in METRICS:
        row = f"| {label} | " + " | ".join(f"{ms(sums[i][key][0])} / {ms(sums[i][key][1])}" for i in impls)
        row += " | " + " | ".join(
            f"**{sums[i][key][0] / ref[key][0]:.2f}×** / {sums[i][key][1] / ref[key][1]:.2f}×"
            for i in impls
            if i != "raw"
        )
        lines.append(row + " |")
    hwm = {i: max(r["rss_hwm_mib"] for r in rss[i]) for i in impls}
    anon = {i: max(r["rss_anon_peak_mib"] for r in rss[i]) for i in impls}
    row = "| peak RSS (anon) | " + " | ".join(f"{hwm[i]:.0f} MiB ({anon[i]:.0f})" for i in impls)
    row += " | " + " | ".join(f"{hwm[i] / hwm['raw']:.2f}× ({anon[i] / anon['raw']:.2f}×)" for i in impls if i != "raw")
    lines.append(row + " |")
    return lines


def warm_table(warm: dict[str, dict[str, float]]) -> list[str]:
    ref = warm["nginx"]
    impls = list(warm)
    lines = [
        "| readers | "
        + " | ".join(LABELS[i] for i in impls)
        + " | "
        + " | ".join(f"{LABELS[i]} ÷ (d)" for i in impls if i != "nginx")
        + " |",
        "|" + " --- |" * (2 * len(impls)),
    ]
    for key, label in (("single", "1 reader, whole file"), ("multi", f"{WARM_READERS} concurrent readers, 1/8 each")):
        row = f"| {label} | " + " | ".join(f"{warm[i][key]:.0f} MiB/s" for i in impls)
        row += " | " + " | ".join(f"**{warm[i][key] / ref[key]:.2f}×**" for i in impls if i != "nginx")
        lines.append(row + " |")
    row = "| peak RSS (anon) | " + " | ".join(
        f"{warm[i]['rss_hwm_mib']:.0f} MiB"
        + (f" ({warm[i]['rss_anon_peak_mib']:.0f})" if "rss_anon_peak_mib" in warm[i] else "")
        for i in impls
    )
    lines.append(row + " |" + " |" * (len(impls) - 1))
    return lines


METHOD = [
    "Media: a fake MP4 (ftyp, pseudo-random mdat, `moov` with `mvhd` at the end; duration chosen so the",
    "bitrate is 1 MiB/s) plus a 1 KiB `.nfo`, in a v1 torrent whose only tracker is the bench's own",
    "(`bench/tracker.py`), which answers every announce with the seeder. The seeder is a libtorrent session in",
    "the bench process, hash-checked before the first run; its throttle is `upload_rate_limit` with every",
    "address mapped to the global peer class (libtorrent exempts loopback/LAN peers from rate limits otherwise).",
    "",
    "Cold: each run is a fresh subprocess with two fresh sessions, each on an empty download directory; the",
    "clock starts just before the torrent is added (session already listening). Session 1 reads at offset 0",
    "(TTFB), then sequentially to 16 MiB; session 2 reads at offset 0, then seeks to the first piece at or",
    "after 60 % that is neither verified nor in flight. (a) sets `set_piece_deadline(p, 0, alert_when_available)`",
    "on the piece, then the other 16 MiB pieces at once (deadline k ms), waits for `read_piece_alert`s; on the",
    "seek it clears its deadlines first. (a) uses the engine's network tuning (`tick_interval` 100 ms, request",
    "queue, connection boost) so the ratio isolates the engine's own logic. (b) is `LibtorrentEngine`:",
    "`add_torrent_file`, `open_reader`, `read(offset, 256 KiB)` (the HTTP layer's chunk). (b*) is (b) with the",
    "fix 1 proposed under Findings patched in by the bench. Implementations alternate run by run. Warm: the",
    "file fully downloaded in the same session; 1 reader reads it whole twice, 8 readers each read their",
    "eighth 4 times; median of the rounds. (d) nginx: 1 worker (like the one-process service), `sendfile on`,",
    "read by `curl` processes (one per reader, its Range repeated on one connection). (b) warm has no HTTP",
    "in the path, so it only bounds what (c) can reach. Peak RSS: VmHWM (includes file-backed pages of",
    "libtorrent's mmap storage) and, in brackets, peak RssAnon sampled every 20 ms. Each figure is shown",
    "with its ratio to its reference in the same run; the machine was shared with other work, so",
    "single figures are noisy: read the medians.",
]

LABELS = {
    "raw": "(a) raw",
    "engine": "(b) engine",
    "engine-fix": "(b*) engine + fix 1",
    "service": "(c) service",
    "nginx": "(d) nginx",
}


def write_section(path: Path, section: str) -> None:
    """Replace (or append) the `## Streaming` section, leaving other sections alone; a
    hand-written `### Findings` subsection at its end is kept."""
    text = path.read_text() if path.exists() else "# Benchmarks\n\nMeasured by hand with the scripts in `bench/`.\n"
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "## Streaming"), None)
    if start is None:
        path.write_text(text.rstrip("\n") + "\n\n" + section)
        return
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    kept = next((lines[i:end] for i in range(start, end) if lines[i].startswith("### Findings")), [])
    new = [*lines[:start], *section.rstrip("\n").splitlines(), *(["", *kept] if kept else [])]
    rest = lines[end:]
    while new and not new[-1].strip():
        new.pop()
    path.write_text("\n".join([*new, *(["", *rest] if rest else [])]) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size-mib", type=int, default=256)
    ap.add_argument("--piece-kib", type=int, nargs="+", default=[1024])
    ap.add_argument("--reps", type=int, default=5, help="cold repetitions per pass (fresh session each)")
    ap.add_argument("--rounds", type=int, default=3, help="warm rounds (median)")
    ap.add_argument("--throttle-mib", type=int, default=20)
    ap.add_argument("--fix", action="store_true", help="also run (b*): the engine with fix 1 (see Findings) patched in")
    ap.add_argument("--write", type=Path, default=None, help="write the markdown section to this file")
    args = ap.parse_args()
    started = time.monotonic()
    cmdline = "uv run python bench/stream_bench.py " + " ".join(sys.argv[1:])
    size = args.size_mib * MiB
    out: list[str] = []
    with tempfile.TemporaryDirectory(prefix="stream-bench-") as tmp_:
        tmp = Path(tmp_)
        media_root = tmp / "media"
        movie = make_media(media_root, size, seconds=size // MiB)
        tracker = Tracker([])
        nginx = Nginx(tmp / "nginx", media_root)
        try:
            for piece_kib in args.piece_kib:
                torrent = tmp / f"bench-{piece_kib}.torrent"
                torrent.write_bytes(make_torrent(media_root, piece_kib * 1024, tracker.url))
                seeder = Seeder(media_root, torrent.read_bytes())
                tracker.peers = [("127.0.0.1", seeder.port)]
                try:
                    out += run_piece_size(args, piece_kib, torrent, movie, tmp, seeder, nginx, size)
                finally:
                    seeder.close()
        finally:
            nginx.close()
            tracker.close()
    took = time.monotonic() - started
    header = [
        "## Streaming",
        "",
        f"Run on {dt.date.today().isoformat()}, {machine()}, loopback TCP only (uTP, DHT, LSD, UPnP, NAT-PMP off), "
        f"took {took / 60:.1f} min:",
        "",
        "```",
        cmdline,
        "```",
        "",
        *METHOD,
        "",
    ]
    section = "\n".join(header + out) + "\n"
    print(section)
    if args.write:
        write_section(args.write, section)


def run_piece_size(
    args: Any, piece_kib: int, torrent: Path, movie: Path, tmp: Path, seeder: Seeder, nginx: Nginx, size: int
) -> list[str]:
    out: list[str] = []
    impls = ["raw", "engine", *(["engine-fix"] if args.fix else [])]
    for rate in (args.throttle_mib * MiB, 0):
        seeder.throttle(rate)
        res: dict[str, list[dict[str, float]]] = {i: [] for i in impls}
        rss: dict[str, list[dict[str, float]]] = {i: [] for i in impls}
        for rep in range(args.reps):
            for impl in impls:  # interleaved, so load from other users of the machine hits both alike
                r = worker(impl, "cold", torrent, movie, tmp / f"w-{impl}", 1)
                res[impl] += r["reps"]
                rss[impl].append(r)
                print(f"piece {piece_kib} KiB rate {rate // MiB} rep {rep} {impl}: {r}", file=sys.stderr)
        title = f"{rate // MiB} MiB/s" if rate else "unthrottled"
        out += [f"### Cold, {piece_kib} KiB pieces, seeder upload {title} ({args.reps} runs, fresh session each)", ""]
        out += [*cold_table(res, rss), ""]
    seeder.throttle(0)
    warm: dict[str, dict[str, float]] = {"nginx": http_warm(nginx.url, size, args.rounds)}
    warm["nginx"]["rss_hwm_mib"] = nginx.rss_mib()
    for impl in ("raw", "engine"):  # the fix (b*) changes nothing once the file is complete
        warm[impl] = worker(impl, "warm", torrent, movie, tmp / f"warm-{impl}", args.rounds)
        print(f"warm {impl}: {warm[impl]}", file=sys.stderr)
    out += [f"### Warm (file complete), {piece_kib} KiB pieces (median of {args.rounds} rounds)", ""]
    out += [*warm_table(warm), ""]
    return out


if __name__ == "__main__":
    main()
