"""Playback routes: the per-client decision, and the HLS playlists, segments and WebVTT it points to.

The decision and the packaging live in ``media/``; these routes check ownership (the decision) or
the stream token (everything under ``/stream/{info_hash}/{token}/…``, signed like the raw stream) and serve.
"""

from __future__ import annotations

import posixpath
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Request, Response
from fastapi.responses import FileResponse

from torrent_streamer.auth.dependencies import public_route
from torrent_streamer.core.deps import ClockDep, ServicesDep, SessionDep
from torrent_streamer.core.errors import NotFound, Unprocessable, problem_responses
from torrent_streamer.engine import FileInfo
from torrent_streamer.media import hls
from torrent_streamer.media.decision import capabilities, decide
from torrent_streamer.media.probe import MediaInfo
from torrent_streamer.media.runtime import MediaDep
from torrent_streamer.media.schemas import (
    AudioTrackPublic,
    MediaPublic,
    PlaybackPublic,
    PlaybackRequest,
    SubtitlePublic,
    SubtitleTrackPublic,
    VideoTrackPublic,
)
from torrent_streamer.media.service import Variant, parse_variant
from torrent_streamer.streaming import service
from torrent_streamer.streaming.fastpath import StreamTarget
from torrent_streamer.streaming.limits import count_stream_mint
from torrent_streamer.streaming.subtitles import MAX_SUBTITLE_BYTES, SubtitleError, to_webvtt
from torrent_streamer.streaming.tokens import MAX_TOKEN_LENGTH
from torrent_streamer.streaming.urls import (
    INFO_HASH_PATTERN,
    hls_master_url,
    stream_url,
    subtitle_playlist_path,
    subtitle_url,
)
from torrent_streamer.torrents.dependencies import TorrentUser
from torrent_streamer.torrents.errors import SubtitleUnavailable
from torrent_streamer.torrents.runtime import EngineDep

router = APIRouter(tags=["playback"])

FileIndex = Annotated[int, Path(ge=0, le=1_000_000)]
Token = Annotated[str, Path(min_length=10, max_length=MAX_TOKEN_LENGTH)]
InfoHash = Annotated[str, Path(pattern=INFO_HASH_PATTERN, description="The torrent's info-hash (v1 when it has one)")]
VariantName = Annotated[str, Path(max_length=24, pattern=hls.VARIANT.pattern)]
SubtitleRef = Annotated[str, Path(max_length=8, pattern=r"^[ef]\d{1,6}$")]
SUBTITLE_FILES = (".srt", ".vtt", ".ass", ".ssa")
MAX_SUBTITLE_FILES = 20
PLAYLIST = "application/vnd.apple.mpegurl"
HLS_RESPONSES = problem_responses(401, 403, 404, 422, 429, 451, 503)
SEGMENT_CACHE = "private, max-age=86400, immutable"  # a token's URL always names the same bytes


def _label(language: str | None, title: str | None, fallback: str) -> str:
    return " · ".join(p for p in (title, language) if p) or fallback


def _audio_public(media: MediaInfo, selected: int | None) -> list[AudioTrackPublic]:
    return [
        AudioTrackPublic(
            index=t.index, codec=t.codec, profile=t.profile, channels=t.channels, language=t.language,
            label=_label(t.language, t.title, f"Track {n + 1} ({t.codec}, {t.channels} ch)"),
            default=t.default, selected=t.index == selected,
        )
        for n, t in enumerate(media.audio)
    ]  # fmt: skip


def _media_public(media: MediaInfo, selected: int | None) -> MediaPublic:
    return MediaPublic(
        container=media.container,
        duration_seconds=media.duration,
        video=[VideoTrackPublic(index=v.index, codec=v.codec, profile=v.profile, width=v.width, height=v.height)
               for v in media.video],
        audio=_audio_public(media, selected),
        subtitles=[
            SubtitleTrackPublic(index=s.index, codec=s.codec, language=s.language,
                                label=_label(s.language, s.title, f"Subtitles {n + 1}"), convertible=s.text)
            for n, s in enumerate(media.subtitles)
        ],
    )  # fmt: skip


def _subtitle_files(files: list[FileInfo]) -> list[FileInfo]:
    return [f for f in files if f.name.lower().endswith(SUBTITLE_FILES) and f.size <= MAX_SUBTITLE_BYTES][
        :MAX_SUBTITLE_FILES
    ]


def _subtitles(request: Request, info_hash: str, token: str, media: MediaInfo, files: list[FileInfo]
               ) -> list[SubtitlePublic]:  # fmt: skip
    out = [
        SubtitlePublic(
            language=s.language, label=_label(s.language, s.title, f"Subtitles {n + 1}"),
            url=subtitle_url(request, info_hash, token, f"e{s.index}") if s.text else None,
            convertible=s.text, source="embedded",
        )
        for n, s in enumerate(media.subtitles)
    ]  # fmt: skip
    for f in _subtitle_files(files):
        url = subtitle_url(request, info_hash, token, f"f{f.index}")
        label = posixpath.basename(f.name)
        out.append(SubtitlePublic(language=None, label=label, url=url, convertible=True, source="file"))
    return out


@router.post(
    "/torrents/{torrent_id}/files/{index}/playback",
    dependencies=[Depends(count_stream_mint)],
    responses=problem_responses(401, 403, 404, 422, 429, 451, 503),
)
async def create_playback(
    torrent_id: uuid.UUID,
    index: FileIndex,
    principal: TorrentUser,
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    engine: EngineDep,
    media_service: MediaDep,
    clock: ClockDep,
    body: Annotated[PlaybackRequest | None, Body()] = None,
) -> PlaybackPublic:
    """How this client should play this file: direct, HLS remux or HLS transcode, with signed URLs."""
    wants = body or PlaybackRequest()
    token, expires_at, target = await service.issue_target(
        session, services, engine, user_id=principal.user_id, session_id=principal.session_id,
        entry_id=torrent_id, file_index=index, now=clock.now(),
    )  # fmt: skip
    await session.commit()  # nothing to write; end the transaction before a probe that may wait on pieces
    media = await media_service.probe(target.info_hash, target.file)
    caps = capabilities(
        request.headers.get("user-agent"),
        video_codecs=wants.video_codecs, audio_codecs=wants.audio_codecs, containers=wants.containers,
        hls=wants.hls, max_audio_channels=wants.max_audio_channels,
    )  # fmt: skip
    try:
        decision = decide(media, caps, wants.audio_track)
    except ValueError:
        raise Unprocessable("No such audio track in this file.", slug="audio-track-not-found") from None
    if decision.mode == "direct":
        url = stream_url(request, target.info_hash, token)
    else:
        url = hls_master_url(request, target.info_hash, token, decision.variant)
        media_service.note_playback(target.info_hash, target.file.index, decision.variant)
    return PlaybackPublic(
        mode=decision.mode,
        url=url,
        expires_at=expires_at,
        duration_seconds=media.duration,
        media=_media_public(media, decision.audio_track),
        audio_tracks=_audio_public(media, decision.audio_track),
        subtitles=_subtitles(request, target.info_hash, token, media, target.status.files),
    )


async def _target(info_hash: str, token: str, services: ServicesDep, engine: EngineDep, media_service: MediaDep
                  ) -> tuple[StreamTarget, MediaInfo]:  # fmt: skip
    target = await service.authorize(services, engine, token, info_hash)
    return target, await media_service.probe(target.info_hash, target.file)


@dataclass(frozen=True, slots=True)
class HlsRequest:
    """What every HLS route starts from: the authorised target, its probe, the variant asked for."""

    target: StreamTarget
    media: MediaInfo
    variant: Variant


async def _hls_request(
    info_hash: InfoHash,
    token: Token,
    variant: VariantName,
    services: ServicesDep,
    engine: EngineDep,
    media_service: MediaDep,
) -> HlsRequest:
    target, media = await _target(info_hash, token, services, engine, media_service)
    return HlsRequest(target, media, parse_variant(variant, media))


HlsDep = Annotated[HlsRequest, Depends(_hls_request)]


@router.get(
    "/stream/{info_hash}/{token}/hls/{variant}/master.m3u8",
    dependencies=[public_route()], response_class=Response, responses=HLS_RESPONSES,
)  # fmt: skip
async def hls_master(hls_request: HlsDep) -> Response:
    """The HLS master playlist: one variant stream and the text subtitle tracks as a subtitle group."""
    target, media, chosen = hls_request.target, hls_request.media, hls_request.variant
    renditions = [
        hls.SubtitleRendition(_label(s.language, s.title, f"Subtitles {n + 1}"), s.language,
                              subtitle_playlist_path(f"e{s.index}"))
        for n, s in enumerate(media.subtitles) if s.text
    ] + [
        hls.SubtitleRendition(posixpath.basename(f.name), None, subtitle_playlist_path(f"f{f.index}"))
        for f in _subtitle_files(target.status.files)
    ]  # fmt: skip
    video = media.video[0] if media.video else None
    bandwidth = int(target.file.size * 8 / media.duration) if media.duration > 0 else 5_000_000
    resolution = f"{video.width}x{video.height}" if video and video.width and chosen.video else None
    text = hls.master_playlist(bandwidth, None, resolution, renditions)
    return Response(text, media_type=PLAYLIST, headers={"Cache-Control": "private, no-store"})


@router.get(
    "/stream/{info_hash}/{token}/hls/{variant}/video.m3u8",
    dependencies=[public_route()], response_class=Response, responses=HLS_RESPONSES,
)  # fmt: skip
async def hls_media(hls_request: HlsDep, media_service: MediaDep) -> Response:
    """The VOD media playlist: every segment of the whole duration, ``#EXT-X-ENDLIST``."""
    text = hls.media_playlist(media_service.segments(hls_request.media, hls_request.variant))
    return Response(text, media_type=PLAYLIST, headers={"Cache-Control": "private, no-store"})


@router.get(
    "/stream/{info_hash}/{token}/hls/{variant}/init.mp4",
    dependencies=[public_route()], response_class=Response, responses=HLS_RESPONSES,
)  # fmt: skip
async def hls_init(hls_request: HlsDep, media_service: MediaDep) -> Response:
    """The fMP4 initialisation segment (``#EXT-X-MAP``)."""
    target = hls_request.target
    path = await media_service.init_segment(target.info_hash, target.file, hls_request.media, hls_request.variant)
    return FileResponse(path, media_type="video/mp4", headers={"Cache-Control": SEGMENT_CACHE})


@router.get(
    "/stream/{info_hash}/{token}/hls/{variant}/{segment}.m4s",
    dependencies=[public_route()], response_class=Response, responses=HLS_RESPONSES,
)  # fmt: skip
async def hls_segment(
    segment: Annotated[int, Path(ge=0, le=1_000_000)], hls_request: HlsDep, media_service: MediaDep
) -> Response:
    """One fMP4 media segment; made on demand (restarting the encoder there if it is far away)."""
    target = hls_request.target
    path = await media_service.segment(target.info_hash, target.file, hls_request.media, hls_request.variant, segment)
    return FileResponse(path, media_type="video/mp4", headers={"Cache-Control": SEGMENT_CACHE})


@router.get(
    "/stream/{info_hash}/{token}/subtitles/{ref}.vtt",
    dependencies=[public_route()], response_class=Response,
    responses={200: {"content": {"text/vtt": {}}}, **problem_responses(401, 403, 404, 413, 422, 451, 503)},
)  # fmt: skip
async def stream_subtitle_vtt(
    info_hash: InfoHash,
    token: Token,
    ref: SubtitleRef,
    services: ServicesDep,
    engine: EngineDep,
    media_service: MediaDep,
) -> Response:
    """A subtitle as WebVTT: an embedded text track (``e<stream>``) or a subtitle file of the torrent (``f<file>``)."""
    target = await service.authorize(services, engine, token, info_hash)
    number = int(ref[1:])
    if ref[0] == "e":
        media = await media_service.probe(target.info_hash, target.file)
        data = await media_service.embedded_vtt(target.info_hash, target.file, media, number)
        return Response(data, media_type="text/vtt; charset=utf-8", headers={"Cache-Control": "private, max-age=3600"})
    file = next((f for f in _subtitle_files(target.status.files) if f.index == number), None)
    if file is None:
        raise NotFound("No such subtitle file in this torrent.", slug="subtitle-not-found")
    if file.name.lower().endswith((".ass", ".ssa")):
        data = await media_service.file_vtt(target.info_hash, file)
        return Response(data, media_type="text/vtt; charset=utf-8", headers={"Cache-Control": "private, max-age=3600"})
    try:
        text = to_webvtt(file.name, await service.read_small_file(engine, target.info_hash, file))
    except SubtitleError as exc:
        raise SubtitleUnavailable(str(exc)) from None
    return Response(text, media_type="text/vtt; charset=utf-8", headers={"Cache-Control": "private, max-age=3600"})


@router.get(
    "/stream/{info_hash}/{token}/subtitles/{ref}.m3u8",
    dependencies=[public_route()], response_class=Response, responses=HLS_RESPONSES,
)  # fmt: skip
async def stream_subtitle_playlist(
    info_hash: InfoHash,
    token: Token,
    ref: SubtitleRef,
    services: ServicesDep,
    engine: EngineDep,
    media_service: MediaDep,
) -> Response:
    """A one-segment WebVTT playlist for the master playlist's subtitle group."""
    _, media = await _target(info_hash, token, services, engine, media_service)
    text = hls.subtitle_playlist(media.duration, f"{ref}.vtt")
    return Response(text, media_type=PLAYLIST, headers={"Cache-Control": "private, no-store"})
