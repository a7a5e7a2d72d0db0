// Playback: ask /playback with what this browser really decodes, then play direct (<video src>),
// HLS natively (Safari) or through hls.js (vendored, /static/vendor/hls.min.js). Small interface:
//   const p = await startPlayback(videoElement, torrentId, fileIndex, apiFetch, { startAt, onStatus, pickers })
//   p.mode, p.answer, p.switchAudio(streamIndex), p.destroy()
// apiFetch(path, { method, body }) returns the parsed JSON answer (the app's authenticated fetch).

const VIDEO_TYPES = {
  h264: ['video/mp4; codecs="avc1.640028"', 'video/mp4; codecs="avc1.42E01E"'],
  hevc: ['video/mp4; codecs="hvc1.1.6.L93.B0"', 'video/mp4; codecs="hev1.1.6.L93.B0"'],
  vp9: ['video/webm; codecs="vp9"', 'video/mp4; codecs="vp09.00.10.08"'],
  vp8: ['video/webm; codecs="vp8"'],
  av1: ['video/mp4; codecs="av01.0.05M.08"'],
};
const AUDIO_TYPES = {
  aac: ['audio/mp4; codecs="mp4a.40.2"'],
  mp3: ['audio/mpeg', 'audio/mp4; codecs="mp4a.6B"'],
  opus: ['audio/webm; codecs="opus"', 'audio/mp4; codecs="opus"'],
  vorbis: ['audio/webm; codecs="vorbis"'],
  flac: ['audio/mp4; codecs="flac"'],
  ac3: ['audio/mp4; codecs="ac-3"'],
  eac3: ['audio/mp4; codecs="ec-3"'],
};
const CONTAINER_TYPES = { mp4: "video/mp4", webm: "video/webm", mkv: "video/x-matroska" };
const HLS_TYPE = "application/vnd.apple.mpegurl";

function decodes(video, types, withMse) {
  return types.some((type) => video.canPlayType(type) === "probably"
    || (withMse && window.MediaSource && MediaSource.isTypeSupported(type)));
}

export function capabilities(video) {
  // Direct play needs <video> to decode it (canPlayType); HLS through hls.js needs MSE (isTypeSupported).
  const mse = Boolean(window.Hls && window.Hls.isSupported());
  const pick = (table) => Object.keys(table).filter((name) => decodes(video, table[name], mse));
  return {
    video_codecs: pick(VIDEO_TYPES),
    audio_codecs: pick(AUDIO_TYPES),
    containers: Object.keys(CONTAINER_TYPES).filter((name) => video.canPlayType(CONTAINER_TYPES[name]) !== ""),
    hls: video.canPlayType(HLS_TYPE) !== "" || mse,
  };
}

function bufferedAhead(video) {
  for (let i = 0; i < video.buffered.length; i += 1) {
    if (video.buffered.start(i) <= video.currentTime + 0.5 && video.currentTime <= video.buffered.end(i)) {
      return video.buffered.end(i) - video.currentTime;
    }
  }
  return 0;
}

function picker(label, options, selected, onChange) {
  const wrap = document.createElement("label");
  wrap.textContent = `${label} `;
  const select = document.createElement("select");
  for (const option of options) {
    const el = document.createElement("option");
    el.value = option.value;
    el.textContent = option.label;
    el.selected = option.value === selected;
    select.append(el);
  }
  select.addEventListener("change", () => onChange(select.value));
  wrap.append(select);
  return wrap;
}

export async function startPlayback(video, torrentId, fileIndex, apiFetch, options = {}) {
  const { startAt = 0, onStatus = () => {}, pickers = null, audioTrack = null } = options;
  const body = capabilities(video);
  if (audioTrack !== null) body.audio_track = audioTrack;
  onStatus("Asking how to play this file…");
  const path = `/torrents/${encodeURIComponent(torrentId)}/files/${fileIndex}/playback`;
  const answer = await apiFetch(path, { method: "POST", body });
  const cleanups = [];
  let hls = null;

  video.replaceChildren();
  let first = true;
  for (const [n, sub] of answer.subtitles.entries()) {
    if (!sub.url) continue; // image subtitles: listed, not convertible
    const track = document.createElement("track");
    track.default = first; // the first text track shows (as before); the picker turns it off
    first = false;
    track.kind = "subtitles";
    track.label = sub.label;
    if (sub.language) track.srclang = sub.language;
    track.src = sub.url; // signed, same origin: no Authorization header needed
    track.dataset.index = String(n);
    video.append(track);
  }

  const seekOnce = () => { if (startAt > 0) video.currentTime = startAt; };
  if (answer.mode === "direct") {
    video.src = answer.url;
    video.addEventListener("loadedmetadata", seekOnce, { once: true });
  } else if (video.canPlayType(HLS_TYPE) !== "") {
    video.src = answer.url; // Safari and iOS play HLS themselves
    video.addEventListener("loadedmetadata", seekOnce, { once: true });
  } else if (window.Hls && window.Hls.isSupported()) {
    // No worker (the CSP allows no blob: workers); subtitles come from our own <track> elements.
    hls = new window.Hls({ enableWorker: false, startPosition: startAt > 0 ? startAt : -1, enableWebVTT: false,
      renderTextTracksNatively: false, maxBufferLength: 30 });
    hls.on(window.Hls.Events.ERROR, (_event, data) => { if (data.fatal) onStatus(`Playback error: ${data.details}`); });
    hls.loadSource(answer.url);
    hls.attachMedia(video);
  } else {
    throw new Error("This browser cannot play HLS, and the file needs it.");
  }

  // Buffering progress while the first segment is prepared (and after a seek).
  const progress = () => {
    if (video.readyState >= 3 && !video.paused) return;
    onStatus(`Preparing ${answer.mode === "direct" ? "stream" : answer.mode}… ${bufferedAhead(video).toFixed(1)} s buffered`);
  };
  for (const event of ["progress", "waiting", "loadstart"]) {
    video.addEventListener(event, progress);
    cleanups.push(() => video.removeEventListener(event, progress));
  }

  const controller = {
    answer,
    mode: answer.mode,
    async switchAudio(streamIndex) {
      const at = video.currentTime;
      controller.destroy();
      return startPlayback(video, torrentId, fileIndex, apiFetch, { ...options, audioTrack: Number(streamIndex), startAt: at });
    },
    setSubtitle(index) {
      for (const track of video.textTracks) track.mode = "disabled";
      if (index !== "" && index !== null && video.textTracks[Number(index)]) video.textTracks[Number(index)].mode = "showing";
    },
    destroy() {
      for (const undo of cleanups) undo();
      if (hls) { hls.destroy(); hls = null; }
      video.pause();
      video.removeAttribute("src");
      video.replaceChildren();
      video.load();
      if (pickers) pickers.replaceChildren();
    },
  };

  if (pickers) {
    pickers.replaceChildren();
    if (answer.audio_tracks.length > 1) {
      const selected = String(answer.audio_tracks.find((t) => t.selected)?.index ?? "");
      const audio = answer.audio_tracks.map((t) => ({ value: String(t.index), label: t.label }));
      pickers.append(picker("Audio", audio, selected, (value) => controller.switchAudio(value).then((next) => {
        if (options.onSwitch) options.onSwitch(next);
      })));
    }
    const subs = [{ value: "", label: "Off" }];
    let shown = 0;
    for (const sub of answer.subtitles) {
      subs.push(sub.url ? { value: String(shown++), label: sub.label } : { value: "x", label: `${sub.label} (image, not shown)` });
    }
    if (subs.length > 1) pickers.append(picker("Subtitles", subs, shown > 0 ? "0" : "", (value) => controller.setSubtitle(value === "x" ? "" : value)));
  }
  onStatus(answer.mode === "direct" ? "Starting…" : `Preparing ${answer.mode}…`);
  return controller;
}

window.startPlayback = startPlayback;
