// Now playing: the video at the top, honest status (connecting / fetching metadata / buffering n% / playing /
// stalled) with the real peer count and rate. A torrent still fetching its metadata can be opened here too
// (playWhenReady): Now playing says so, and starts the first playable file once the details arrive, subtitle and audio pickers, and the resume position.
// The position is saved for the file that is playing, captured when playback starts (never for whatever
// torrent the rest of the page shows later). The video source is set in ONE place, setVideoSource(), so
// the HLS/direct decision of the playback API (web/static/js/playback.js) can be plugged in there.
const { call } = window.tsApi;
const $ = (id) => document.getElementById(id);
const SAVE_EVERY_MS = 5000;
const BUFFER_TARGET_SECONDS = 4;
const STALL_AFTER_MS = 4000;
const playing = { playback: null, torrentId: null, fileIndex: null, title: "", events: null, saveTimer: null, subtitleUrl: null, lastStatus: null, waitingSince: 0, started: false, pending: null };

function formatSize(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes; let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

function setState(text, kind) {
  const box = $("playback-state");
  box.textContent = text;
  box.dataset.state = kind;
}

function bufferedAhead(video) {
  for (let i = 0; i < video.buffered.length; i += 1) {
    if (video.buffered.start(i) <= video.currentTime + 0.1 && video.buffered.end(i) >= video.currentTime) return video.buffered.end(i) - video.currentTime;
  }
  return 0;
}

// The one honest status line, from the last engine status and what the <video> is doing.
function renderState() {
  const video = $("video");
  const status = playing.lastStatus;
  if (status) {
    const peers = status.peers;
    $("swarm").textContent = `${peers} ${peers === 1 ? "peer" : "peers"} · ${formatSize(status.download_rate)}/s`;
  }
  if (!playing.torrentId) return;
  if (playing.pending) {
    if (status && (status.state === "timed-out" || status.state === "error")) { setState(status.error || "No peer sent this torrent's details.", "error"); return; }
    setState("Fetching metadata: asking peers for this torrent's details…", "metadata"); return;
  }
  if (status && status.state === "metadata") { setState("Fetching metadata…", "metadata"); return; }
  if (!playing.started && (!status || status.peers === 0) && video.readyState < 2) { setState("Connecting…", "connecting"); return; }
  if (!video.paused && !video.seeking && video.readyState >= 3) { setState("Playing", "playing"); return; }
  if (video.paused && playing.started) { setState("Paused", "paused"); return; }
  const waited = playing.waitingSince ? Date.now() - playing.waitingSince : 0;
  if (waited > STALL_AFTER_MS && (!status || status.download_rate === 0)) { setState("Stalled: no data is arriving from peers", "stalled"); return; }
  const percent = Math.min(99, Math.floor((bufferedAhead(video) / BUFFER_TARGET_SECONDS) * 100));
  setState(`Buffering ${percent}%`, "buffering");
}

// THE place the video source is set: today a signed stream URL; later the playback API's decision.
async function setVideoSource(video, torrent, file, resumeAt) {
  if (typeof window.startPlayback === "function") {
    // The playback API decides: direct, HLS remux or transcode (js/playback.js), with its own audio and
    // subtitle pickers (embedded tracks and subtitle files, as WebVTT).
    playing.playback = await window.startPlayback(video, torrent.id, file.index, (path, opts) => call(path, opts), {
      startAt: resumeAt, pickers: $("playback-pickers"), onSwitch: (next) => { playing.playback = next; },
    });
    return playing.playback;
  }
  const link = await call(`/torrents/${encodeURIComponent(torrent.id)}/files/${file.index}/stream`, { method: "POST" });
  video.src = link.url;
  return link;
}

async function resumePosition(torrentId, fileIndex) {
  try {
    const history = await call("/me/history");
    const item = (history.items || []).find((h) => h.torrent_id === torrentId && h.file_index === fileIndex);
    return item ? item.position_seconds || 0 : 0;
  } catch { return 0; }
}

async function savePosition() {
  const video = $("video");
  const { torrentId, fileIndex } = playing;
  if (!torrentId || fileIndex === null || !Number.isFinite(video.currentTime) || video.currentTime <= 0) return false;
  const body = { position_seconds: video.currentTime };
  if (Number.isFinite(video.duration)) body.duration_seconds = video.duration;
  try {
    await call(`/me/history/${encodeURIComponent(torrentId)}/${fileIndex}`, { method: "PUT", body });
    return true;
  } catch { return false; /* best effort: playback goes on */ }
}

function subtitleFiles(torrent) { return (torrent.files || []).filter((f) => f.subtitle_url); }

function fillSubtitlePicker(torrent, file) {
  const pick = $("subtitle-pick");
  const off = document.createElement("option");
  off.value = ""; off.textContent = "Off";
  pick.replaceChildren(off);
  const stem = file.name.replace(/\.[^./]+$/, "").toLowerCase();
  let chosen = "";
  for (const sub of subtitleFiles(torrent)) {
    const option = document.createElement("option");
    option.value = sub.subtitle_url;
    option.textContent = sub.name.split("/").pop();
    pick.append(option);
    if (!chosen && sub.name.toLowerCase().startsWith(stem)) chosen = sub.subtitle_url;
  }
  pick.disabled = pick.options.length === 1;
  pick.value = chosen;
  return chosen;
}

async function showSubtitles(url) {
  const video = $("video");
  for (const track of video.querySelectorAll("track")) track.remove();
  if (playing.subtitleUrl) { URL.revokeObjectURL(playing.subtitleUrl); playing.subtitleUrl = null; }
  if (!url) return;
  const owner = playing.torrentId;
  try {
    // <track> cannot send Authorization: fetch the WebVTT with the token, hand it over as a blob: URL.
    const response = await call(url, { raw: true });
    const text = await response.text();
    if (playing.torrentId !== owner) return; // another title started meanwhile
    playing.subtitleUrl = URL.createObjectURL(new Blob([text], { type: "text/vtt" }));
    const track = document.createElement("track");
    track.kind = "subtitles"; track.label = $("subtitle-pick").selectedOptions[0].textContent; track.srclang = "und";
    track.src = playing.subtitleUrl; track.default = true;
    video.append(track);
    track.track.mode = "showing";
  } catch (error) { $("status").textContent = `Subtitles unavailable: ${error.message}`; }
}

function fillAudioPicker() {
  const video = $("video");
  const tracks = video.audioTracks;
  const box = $("audio-box");
  if (!tracks || tracks.length < 2) { box.hidden = true; return; }
  const pick = $("audio-pick");
  pick.replaceChildren(...Array.from(tracks, (t, i) => { const o = document.createElement("option"); o.value = String(i); o.textContent = t.label || t.language || `Track ${i + 1}`; return o; }));
  box.hidden = false;
}

function onStatus(status) {
  playing.lastStatus = status;
  renderState();
  const pending = playing.pending;
  if (pending && !pending.resolving && status.state !== "metadata" && status.state !== "timed-out" && status.state !== "error") {
    pending.resolving = true;
    startWhenKnown(pending.torrentId);
  }
}

// The metadata has arrived: the files are known, play the first one the service would play.
async function startWhenKnown(torrentId) {
  let detail;
  try { detail = await call(`/torrents/${encodeURIComponent(torrentId)}`); } catch { if (playing.pending) playing.pending.resolving = false; return; }
  if (!playing.pending || playing.pending.torrentId !== torrentId) return; // the user moved on meanwhile
  const file = (detail.files || []).find((f) => f.streamable);
  if (!file) { playing.pending = null; setState("This torrent has no video or audio file to play.", "error"); return; }
  try { await play(detail, file); } catch (error) { setState(error instanceof Error ? error.message : String(error), "error"); }
}

async function watchEvents(torrentId, controller) {
  try {
    const response = await fetch(`/api/v1/torrents/${encodeURIComponent(torrentId)}/events`, {
      headers: { Accept: "text/event-stream", Authorization: `Bearer ${window.tsApi.session.access}` }, signal: controller.signal, cache: "no-store",
    });
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
        if (data) { let status = null; try { status = JSON.parse(data); } catch { /* a malformed event */ } if (status) onStatus(status); }
      }
    }
  } catch {
    if (controller.signal.aborted) return;
  }
  while (!controller.signal.aborted) { // polling fallback (and after the stream's bounded lifetime)
    try { onStatus(await call(`/torrents/${encodeURIComponent(torrentId)}`)); } catch { return; }
    await window.tsApi.wait(2000);
  }
}

function stop() {
  if (playing.events) { playing.events.abort(); playing.events = null; }
  if (playing.saveTimer) { clearInterval(playing.saveTimer); playing.saveTimer = null; }
  if (playing.torrentId) savePosition();
  if (playing.subtitleUrl) { URL.revokeObjectURL(playing.subtitleUrl); playing.subtitleUrl = null; }
  if (playing.playback) { playing.playback.destroy(); playing.playback = null; }
  const video = $("video");
  video.pause();
  for (const track of video.querySelectorAll("track")) track.remove();
  video.removeAttribute("src");
  video.load();
  Object.assign(playing, { torrentId: null, fileIndex: null, title: "", lastStatus: null, waitingSince: 0, started: false, pending: null });
  $("watch").hidden = true;
}

async function play(torrent, file) {
  stop();
  Object.assign(playing, { torrentId: torrent.id, fileIndex: file.index, title: torrent.name });
  const video = $("video");
  $("watch").hidden = false;
  $("now-playing").textContent = `${torrent.name} · ${file.name.split("/").pop()}`;
  setState("Connecting…", "connecting");
  $("swarm").textContent = "";
  $("watch").scrollIntoView({ block: "start" });
  const controller = new AbortController();
  playing.events = controller;
  watchEvents(torrent.id, controller);
  const resumeAt = await resumePosition(torrent.id, file.index);
  await setVideoSource(video, torrent, file, resumeAt); // subtitles come after, never in the way of the video
  $("file-pickers").hidden = Boolean(playing.playback);
  if (!playing.playback) {
    if (resumeAt > 0) video.addEventListener("loadedmetadata", () => { video.currentTime = resumeAt; }, { once: true });
    video.addEventListener("loadedmetadata", fillAudioPicker, { once: true });
    showSubtitles(fillSubtitlePicker(torrent, file));
  }
  playing.saveTimer = setInterval(savePosition, SAVE_EVERY_MS);
  try { await video.play(); } catch (error) {
    if (error instanceof DOMException && error.name === "NotAllowedError") { setState("Press play to start", "paused"); return; }
    if (!(error instanceof DOMException && error.name === "AbortError")) throw error;
  }
}

// A torrent still fetching its metadata: Now playing says so and starts once the files are known.
function playWhenReady(torrent) {
  stop();
  Object.assign(playing, { torrentId: torrent.id, title: torrent.name, pending: { torrentId: torrent.id, resolving: false } });
  $("watch").hidden = false;
  $("file-pickers").hidden = true;
  $("now-playing").textContent = torrent.name;
  $("swarm").textContent = "";
  renderState();
  $("watch").scrollIntoView({ block: "start" });
  const controller = new AbortController();
  playing.events = controller;
  watchEvents(torrent.id, controller);
}

function wire() {
  const video = $("video");
  video.addEventListener("waiting", () => { playing.waitingSince = Date.now(); renderState(); });
  video.addEventListener("stalled", renderState);
  video.addEventListener("progress", renderState);
  video.addEventListener("playing", () => { playing.started = true; playing.waitingSince = 0; renderState(); });
  video.addEventListener("pause", async () => {
    renderState();
    if (video.ended || !playing.torrentId) return;
    if (await savePosition()) $("status").textContent = `Paused; position ${Math.floor(video.currentTime)} s saved.`;
  });
  video.addEventListener("seeking", () => { playing.waitingSince = Date.now(); renderState(); });
  video.addEventListener("error", () => { if (playing.torrentId) setState("The video could not be played", "error"); });
  $("subtitle-pick").addEventListener("change", (event) => showSubtitles(event.target.value));
  $("audio-pick").addEventListener("change", (event) => {
    const tracks = video.audioTracks;
    for (let i = 0; tracks && i < tracks.length; i += 1) tracks[i].enabled = String(i) === event.target.value;
  });
  setInterval(() => { if (playing.torrentId) renderState(); }, 1000);
  window.addEventListener("pagehide", () => { if (playing.torrentId) savePosition(); });
}

wire();
window.tsPlayer = { play, playWhenReady, stop, savePosition, playing, formatSize, setVideoSource };
