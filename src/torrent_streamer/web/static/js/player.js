// The web player: the reference client of the public JSON API (/api/v1), like the Flutter app.
// Tokens live in memory only (a reload signs out); every text from the server goes through textContent.
const API = "/api/v1";
const $ = (id) => document.getElementById(id);
const state = { access: null, refresh: null, mfaToken: null, torrent: null, file: null, events: null, saveTimer: null, subtitleUrl: null, playback: null };

class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function call(path, { method = "GET", body, auth = true, retry = true, raw = false } = {}) {
  const headers = { Accept: raw ? "*/*" : "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth && state.access) headers.Authorization = `Bearer ${state.access}`;
  const url = path.startsWith("/api/") || path.startsWith("http") ? path : API + path;
  const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "omit", cache: "no-store" });
  if (response.status === 401 && auth && retry && state.refresh && (await refreshTokens())) {
    return call(path, { method, body, auth, retry: false, raw });
  }
  if (!response.ok) {
    let problem = null;
    try { problem = await response.json(); } catch { problem = null; }
    throw new ApiError(response.status, problem);
  }
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

async function refreshTokens() {
  try {
    const pair = await call("/auth/refresh", { method: "POST", body: { refresh_token: state.refresh }, auth: false, retry: false });
    setTokens(pair);
    return true;
  } catch {
    signedOut("Your session has ended; sign in again.");
    return false;
  }
}

function setTokens(pair) {
  state.access = pair.access_token;
  state.refresh = pair.refresh_token;
}

function say(text) { $("status").textContent = text; }
function fail(error) {
  const box = $("error");
  box.textContent = error instanceof Error ? error.message : String(error);
  box.hidden = false;
}
function clearError() { $("error").hidden = true; $("error").textContent = ""; }

function show(section) {
  $("sign-in").hidden = section !== "sign-in";
  $("library").hidden = section === "sign-in";
  $("watch").hidden = section !== "watch";
  $("sign-out").hidden = section === "sign-in";
}

function formatSize(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes; let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

function button(label, onClick, extraClass) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  if (extraClass) b.className = extraClass;
  b.addEventListener("click", onClick);
  return b;
}

// --- sign-in -------------------------------------------------------------------------------
async function onLogin(event) {
  event.preventDefault();
  clearError();
  try {
    const result = await call("/auth/login", { method: "POST", auth: false, body: { email: $("email").value, password: $("password").value } });
    $("password").value = "";
    if (result.mfa_required) {
      state.mfaToken = result.mfa_token;
      $("login-form").hidden = true;
      $("mfa-form").hidden = false;
      $("mfa-code").focus();
      say("Enter the code from your authenticator app.");
      return;
    }
    await signedIn(result);
  } catch (error) { fail(error); }
}

async function onMfa(event) {
  event.preventDefault();
  clearError();
  try {
    const pair = await call("/auth/mfa/verify", { method: "POST", auth: false, body: { mfa_token: state.mfaToken, code: $("mfa-code").value.trim() } });
    state.mfaToken = null;
    $("mfa-code").value = "";
    await signedIn(pair);
  } catch (error) { fail(error); }
}

async function signedIn(pair) {
  setTokens(pair);
  $("mfa-form").hidden = true;
  $("login-form").hidden = false;
  try {
    const me = await call("/me");
    $("who").textContent = me.display_name || me.email || "";
  } catch { $("who").textContent = ""; }
  show("library");
  say("Signed in.");
  $("q").focus();
}

function signedOut(message) {
  stopWatching();
  state.access = null; state.refresh = null; state.torrent = null; state.file = null;
  $("who").textContent = "";
  $("results").replaceChildren();
  $("files").replaceChildren();
  show("sign-in");
  say(message || "Signed out.");
}

async function onSignOut() {
  const refresh = state.refresh;
  if (refresh) { try { await call("/auth/logout", { method: "POST", body: { refresh_token: refresh }, retry: false }); } catch { /* signed out locally anyway */ } }
  signedOut();
}

// --- search and library ----------------------------------------------------------------------
async function onSearch(event) {
  event.preventDefault();
  clearError();
  const q = $("q").value.trim();
  if (!q) return;
  say("Searching…");
  try {
    const page = await call(`/torrents/search?${new URLSearchParams({ q, limit: "20" })}`);
    const items = [...(page.items || []), ...(page.external || [])];
    const list = $("results");
    list.replaceChildren();
    for (const item of items) {
      const li = document.createElement("li");
      const label = document.createElement("span");
      label.textContent = `${item.title} · ${formatSize(item.size_bytes)} · ${item.seeders} seeders`;
      li.append(label, button("Add", () => addTorrent(item.magnet, item.title)));
      list.append(li);
    }
    say(items.length ? `${items.length} result(s).` : "No results.");
  } catch (error) { fail(error); say(""); }
}

async function addTorrent(magnet, title) {
  clearError();
  say(`Adding ${title}…`);
  try {
    let torrent = await call("/torrents", { method: "POST", body: { magnet } });
    for (let attempt = 0; !(torrent.files && torrent.files.length) && attempt < 120; attempt += 1) {
      say("Fetching the torrent's metadata…");
      await new Promise((resolve) => setTimeout(resolve, 500));
      torrent = await call(`/torrents/${encodeURIComponent(torrent.id)}`);
    }
    if (!(torrent.files && torrent.files.length)) throw new Error("The torrent's metadata is not available yet; try again.");
    state.torrent = torrent;
    renderFiles(torrent);
    say(`${torrent.name}: ${torrent.files.length} file(s).`);
  } catch (error) { fail(error); say(""); }
}

function renderFiles(torrent) {
  $("files-title").hidden = false;
  $("torrent-name").textContent = torrent.name;
  const list = $("files");
  list.replaceChildren();
  for (const file of torrent.files) {
    const li = document.createElement("li");
    const label = document.createElement("span");
    label.textContent = `${file.name} · ${formatSize(file.size)}`;
    li.append(label);
    if (file.streamable) li.append(button("Play", () => play(torrent, file)));
    list.append(li);
  }
}

// --- playback --------------------------------------------------------------------------------
async function play(torrent, file) {
  clearError();
  stopWatching();
  state.file = file;
  const video = $("video");
  try {
    show("watch");
    $("now-playing").textContent = file.name;
    const resumeAt = await resumePosition(torrent, file);
    // Direct, HLS remux or transcode, subtitles and pickers: js/playback.js.
    state.playback = await window.startPlayback(video, torrent.id, file.index, (path, opts) => call(path, opts), {
      startAt: resumeAt, onStatus: say, pickers: $("playback-pickers"), onSwitch: (next) => { state.playback = next; },
    });
    watchEvents(torrent);
    state.saveTimer = setInterval(savePosition, 10000);
    say("Starting…");
    await video.play();
  } catch (error) {
    if (error instanceof DOMException && error.name === "NotAllowedError") { say("Press play to start."); return; }
    fail(error);
  }
}

async function resumePosition(torrent, file) {
  try {
    const history = await call("/me/history");
    const items = Array.isArray(history) ? history : history.items || [];
    const entry = items.find((h) => h.torrent_id === torrent.id && h.file_index === file.index);
    return entry ? entry.position_seconds || 0 : 0;
  } catch { return 0; }
}

async function savePosition() {
  const video = $("video");
  if (!state.torrent || !state.file || !Number.isFinite(video.currentTime) || video.currentTime <= 0) return false;
  const body = { position_seconds: video.currentTime };
  if (Number.isFinite(video.duration)) body.duration_seconds = video.duration;
  try {
    await call(`/me/history/${encodeURIComponent(state.torrent.id)}/${state.file.index}`, { method: "PUT", body });
    return true;
  } catch { return false; /* resume is best effort; playback goes on */ }
}

function showProgress(data) {
  const parts = [];
  if (typeof data.progress === "number") parts.push(`downloaded ${(data.progress * 100).toFixed(1)}%`);
  const reader = (data.readers || []).find((r) => state.file && r.file_index === state.file.index);
  if (reader) parts.push(`buffered ahead ${formatSize(reader.buffered_ahead_bytes)}`);
  if (typeof data.peers === "number") parts.push(`${data.peers} peer(s)`);
  if (typeof data.download_rate === "number") parts.push(`${formatSize(data.download_rate)}/s`);
  if (parts.length) $("buffer").textContent = parts.join(" · ");
}

// Server-Sent Events read through fetch (EventSource cannot send Authorization); polling as a fallback.
async function watchEvents(torrent) {
  const controller = new AbortController();
  state.events = controller;
  try {
    const response = await fetch(`${API}/torrents/${encodeURIComponent(torrent.id)}/events`, {
      headers: { Accept: "text/event-stream", Authorization: `Bearer ${state.access}` }, signal: controller.signal, cache: "no-store",
    });
    if (!response.ok || !response.body) throw new Error(`events: HTTP ${response.status}`);
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
        if (data) { try { showProgress(JSON.parse(data)); } catch { /* ignore a malformed event */ } }
      }
    }
  } catch (error) {
    if (controller.signal.aborted) return;
    pollStatus(torrent, controller);
  }
}

async function pollStatus(torrent, controller) {
  while (!controller.signal.aborted) {
    try { showProgress(await call(`/torrents/${encodeURIComponent(torrent.id)}`)); } catch { return; }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

function stopWatching() {
  if (state.events) { state.events.abort(); state.events = null; }
  if (state.saveTimer) { clearInterval(state.saveTimer); state.saveTimer = null; savePosition(); }
  if (state.subtitleUrl) { URL.revokeObjectURL(state.subtitleUrl); state.subtitleUrl = null; }
  if (state.playback) { state.playback.destroy(); state.playback = null; }
  const video = $("video");
  video.pause();
  video.removeAttribute("src");
  video.load();
}

function wireVideo() {
  const video = $("video");
  video.addEventListener("waiting", () => say("Buffering…"));
  video.addEventListener("playing", () => say("Playing."));
  video.addEventListener("pause", async () => {
    if (video.ended || !state.file) return;
    say("Paused.");
    if (await savePosition()) say(`Paused; position ${Math.floor(video.currentTime)} s saved.`);
  });
  video.addEventListener("seeking", () => say("Seeking…"));
  video.addEventListener("error", () => fail(new Error("The video could not be played.")));
}

$("login-form").addEventListener("submit", onLogin);
$("mfa-form").addEventListener("submit", onMfa);
$("search-form").addEventListener("submit", onSearch);
$("magnet-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const magnet = $("magnet").value.trim();
  if (magnet) addTorrent(magnet, "the magnet link");
});
$("sign-out").addEventListener("click", onSignOut);
wireVideo();
show("sign-in");
