"""The alert thread: waits on libtorrent alerts and hands plain-data events to asyncio.

Alerts are converted to immutable values in the thread (libtorrent frees them on the
next `pop_alerts`), then delivered with `loop.call_soon_threadsafe` — no polling.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import libtorrent as lt

log = logging.getLogger(__name__)

IH = tuple[str | None, str | None]


def ih_of(ih: Any) -> IH:
    """(v1 hex, v2 hex) of an `info_hash_t`; missing halves are None."""
    return (str(ih.v1) if ih.has_v1() else None, str(ih.v2) if ih.has_v2() else None)


@dataclass(frozen=True, slots=True)
class Snap:
    """A copy of the torrent_status fields the engine reports."""

    ih: IH
    name: str
    state: str
    progress: float
    total_size: int
    total_done: int
    peers: int
    seeds: int
    download_rate: int
    upload_rate: int
    has_metadata: bool
    error: str | None
    total_payload_download: int


@dataclass(frozen=True, slots=True)
class Event:
    """One alert worth reacting to: `kind` plus the torrent and piece it is about."""

    kind: str
    ih: IH
    piece: int = -1
    data: bytes | None = None
    message: str | None = None


_CHECKING = {
    "checking_files",
    "checking_resume_data",
    "queued_for_checking",
    "allocating",
}


def snap_of(st: Any) -> Snap:
    """Convert one `torrent_status` (any thread) into a Snap."""
    state_name = str(st.state).rsplit(".", 1)[-1]
    paused = bool(st.flags & lt.torrent_flags.paused)
    err = st.errc.message() if st.errc.value() else None
    if err:
        state = "error"
    elif paused:
        state = "paused"
    elif not st.has_metadata or state_name == "downloading_metadata":
        state = "metadata"
    elif state_name in _CHECKING:
        state = "checking"
    elif state_name in ("seeding", "finished"):
        state = "seeding"
    else:
        state = "downloading"
    ti_size = st.total if st.has_metadata else 0
    # libtorrent's payload rates are moving averages that decay for seconds after the last peer has
    # gone (a finished torrent drops its seeds at once): with no connection the rate is 0, so a status
    # never reads "0 peers at 7 MiB/s".
    connected = int(st.num_peers)
    return Snap(
        ih=ih_of(st.info_hashes),
        name=st.name,
        state=state,
        progress=float(st.progress),
        total_size=int(ti_size),
        total_done=int(st.total_done),
        peers=connected,
        seeds=int(st.num_seeds),
        download_rate=int(st.download_payload_rate) if connected else 0,
        upload_rate=int(st.upload_payload_rate) if connected else 0,
        has_metadata=bool(st.has_metadata),
        error=err,
        total_payload_download=int(st.total_payload_download),
    )


def _ep(a: Any) -> str:
    host, port = a.endpoint
    return f"{host}:{port}"


ResumeWriter = Callable[[IH, bytes], None]


class AlertPump:
    """Runs `session.wait_for_alert` in a daemon thread and dispatches events to a loop."""

    def __init__(
        self,
        session: lt.session,
        loop: asyncio.AbstractEventLoop,
        dispatch: Callable[[list[Event], list[Snap]], None],
        write_resume: ResumeWriter,
    ) -> None:
        self._ses = session
        self._loop = loop
        self._dispatch = dispatch
        self._write_resume = write_resume
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lt-alerts", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to stop and join it (blocking: call from a worker thread)."""
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._ses.wait_for_alert(200):
                continue
            events: list[Event] = []
            snaps: list[Snap] = []
            for a in self._ses.pop_alerts():
                try:
                    self._convert(a, events, snaps)
                except Exception:  # a malformed alert must not kill the pump
                    log.exception("failed to handle %s", type(a).__name__)
            if events or snaps:
                try:
                    self._loop.call_soon_threadsafe(self._dispatch, events, snaps)
                except RuntimeError:  # loop closed during shutdown
                    return

    def _convert(self, a: Any, events: list[Event], snaps: list[Snap]) -> None:
        if isinstance(a, lt.state_update_alert):
            snaps.extend(snap_of(st) for st in a.status)
        elif isinstance(a, lt.piece_finished_alert):
            events.append(Event("piece", ih_of(a.handle.info_hashes()), a.piece_index))
        elif isinstance(a, lt.read_piece_alert):
            ec = a.error
            if ec.value():
                events.append(
                    Event(
                        "read",
                        ih_of(a.handle.info_hashes()),
                        a.piece,
                        None,
                        ec.message(),
                    )
                )
            else:
                events.append(Event("read", ih_of(a.handle.info_hashes()), a.piece, bytes(a.buffer)))
        elif isinstance(a, lt.save_resume_data_alert):
            ih = ih_of(a.handle.info_hashes())
            try:
                self._write_resume(ih, bytes(lt.write_resume_data_buf(a.params)))
                events.append(Event("saved", ih))
            except Exception as exc:  # noqa: BLE001 - report as a failed save
                log.warning("writing resume data failed: %s", exc)
                events.append(Event("save_failed", ih, message="cannot write resume data"))
        elif isinstance(a, lt.save_resume_data_failed_alert):
            events.append(Event("save_failed", ih_of(a.handle.info_hashes()), message=a.message()))
        elif isinstance(a, lt.metadata_received_alert):
            events.append(Event("metadata", ih_of(a.handle.info_hashes())))
        elif isinstance(a, lt.torrent_finished_alert):
            events.append(Event("finished", ih_of(a.handle.info_hashes())))
        elif isinstance(a, lt.cache_flushed_alert):
            events.append(Event("flushed", ih_of(a.handle.info_hashes())))
        elif isinstance(a, lt.storage_moved_alert):
            events.append(Event("moved", ih_of(a.handle.info_hashes()), message=a.old_path()))
        elif isinstance(a, lt.torrent_checked_alert):
            events.append(Event("checked", ih_of(a.handle.info_hashes())))
        elif isinstance(a, lt.torrent_removed_alert):
            events.append(Event("removed", ih_of(a.info_hashes)))
        elif isinstance(a, lt.torrent_deleted_alert | lt.torrent_delete_failed_alert):
            events.append(Event("deleted", ih_of(a.info_hashes)))
        elif isinstance(a, lt.file_error_alert):
            events.append(
                Event(
                    "storage_error",
                    ih_of(a.handle.info_hashes()),
                    message=a.error.message(),
                )
            )
        elif isinstance(a, lt.torrent_error_alert):
            events.append(Event("error", ih_of(a.handle.info_hashes()), message=a.error.message()))
        elif isinstance(a, lt.state_changed_alert):
            prev = str(a.prev_state).rsplit(".", 1)[-1]
            new = str(a.state).rsplit(".", 1)[-1]
            if prev in ("finished", "seeding") and new == "downloading":
                events.append(Event("unfinished", ih_of(a.handle.info_hashes())))
        elif isinstance(a, lt.file_prio_alert):
            # New file priorities reset every piece priority, deadlines included: re-apply them.
            events.append(Event("file_prio", ih_of(a.handle.info_hashes())))
        elif isinstance(a, lt.peer_connect_alert):
            transport = "uTP" if "(uTP)" in a.message() else "TCP"
            events.append(Event("peer_connect", ih_of(a.handle.info_hashes()), message=f"{_ep(a)} {transport}"))
        elif isinstance(a, lt.peer_disconnected_alert):
            why = f"{_ep(a)} {a.error.message()} (reason {int(a.reason)})"
            events.append(Event("peer_disconnect", ih_of(a.handle.info_hashes()), message=why))
        elif isinstance(a, lt.hash_failed_alert):
            events.append(Event("hash_failed", ih_of(a.handle.info_hashes()), a.piece_index))
