// The web app: sign in / sign up, library, continue watching, add (magnet or .torrent). Search is works.js,
// which adds a release through addMagnet() here (window.tsApp). Uses only the public API (/api/v1) through
// api.js; playback is now-playing.js. Every server string is written with textContent; nothing is kept in
// localStorage or sessionStorage.
const { call, webAuth, refreshSession, signOut, session, ApiError } = window.tsApi;
const { play, stop, formatSize } = window.tsPlayer;
const $ = (id) => document.getElementById(id);
const LIBRARY_POLL_MS = 2000;
const STATE_WORDS = { metadata: "Fetching metadata", checking: "Checking", downloading: "Downloading", seeding: "Ready", paused: "Paused", error: "Error", missing: "Not loaded", "timed-out": "No peers found" };
const app = { mfaToken: null, email: "", pollTimer: null, details: new Map() };

function say(text) { $("status").textContent = text; }
function clearError() { $("error").hidden = true; $("error-text").textContent = ""; for (const extra of $("error").querySelectorAll("button")) extra.remove(); }
function fail(error, { offerRemoval = false } = {}) {
  $("error-text").textContent = error instanceof Error ? error.message : String(error);
  $("error").hidden = false;
  if (offerRemoval) {
    const go = button("Show my library", () => { $("library").scrollIntoView({ block: "start" }); const first = $("library-list").querySelector("button.danger"); if (first) first.focus(); }, "secondary");
    $("error").append(go);
  }
}

function button(label, onClick, extraClass) {
  const b = document.createElement("button");
  b.type = "button"; b.textContent = label;
  if (extraClass) b.className = extraClass;
  b.addEventListener("click", onClick);
  return b;
}

function text(tag, value, className) {
  const el = document.createElement(tag);
  el.textContent = value;
  if (className) el.className = className;
  return el;
}

// --- screens --------------------------------------------------------------------------------
function showAuth(form) {
  $("auth").hidden = false; $("home").hidden = true; $("sign-out").hidden = true;
  $("login-form").hidden = form !== "sign-in"; $("sign-up-form").hidden = form !== "sign-up"; $("mfa-form").hidden = form !== "mfa";
  $("auth-title").textContent = form === "sign-up" ? "Create an account" : "Sign in";
}

function showHome() {
  $("auth").hidden = true; $("home").hidden = false; $("sign-out").hidden = false;
}

async function signedIn() {
  try { const me = await call("/me"); $("who").textContent = me.display_name || me.email || ""; app.email = me.email || ""; } catch { $("who").textContent = ""; }
  showHome();
  await Promise.all([loadLibrary(), loadContinue()]);
  schedulePoll();
}

function signedOut(message) {
  stop();
  if (app.pollTimer) { clearTimeout(app.pollTimer); app.pollTimer = null; }
  $("who").textContent = "";
  for (const id of ["results", "search-message", "library-list", "continue-list"]) $(id).replaceChildren();
  app.details.clear();
  showAuth("sign-in");
  say(message || "Signed out.");
}
session.onSignedOut = signedOut;

// --- sign in / sign up ---------------------------------------------------------------------------
async function onLogin(event) {
  event.preventDefault(); clearError();
  try {
    const result = await webAuth("/login", { email: $("email").value, password: $("password").value });
    $("password").value = "";
    if (result.mfa_required) { app.mfaToken = result.mfa_token; showAuth("mfa"); $("mfa-code").focus(); say("Enter the code from your authenticator app."); return; }
    say("Signed in.");
    await signedIn();
  } catch (error) { fail(error); }
}

async function onMfa(event) {
  event.preventDefault(); clearError();
  try {
    await webAuth("/mfa/verify", { mfa_token: app.mfaToken, code: $("mfa-code").value.trim() });
    app.mfaToken = null; $("mfa-code").value = "";
    say("Signed in.");
    await signedIn();
  } catch (error) { fail(error); }
}

const RULES = {
  length: (p) => p.length >= 12 && p.length <= 128,
  lower: (p) => /[a-z]/.test(p),
  upper: (p) => /[A-Z]/.test(p),
  digit: (p) => /[0-9]/.test(p),
  symbol: (p) => /[^A-Za-z0-9]/.test(p),
  email: (p, email) => { const name = email.split("@")[0].toLowerCase(); return p.length > 0 && (name.length < 3 || !p.toLowerCase().includes(name)); },
};

function checkRules() {
  const password = $("new-password").value;
  let ok = true;
  for (const item of $("password-rules").querySelectorAll("li")) {
    const met = RULES[item.dataset.rule](password, $("new-email").value);
    item.dataset.met = met ? "yes" : "no";
    let note = item.querySelector(".vh");
    if (!note) { note = text("span", "", "vh"); item.append(note); }
    note.textContent = met ? " (done)" : " (not yet)";
    ok = ok && met;
  }
  return ok;
}

async function onSignUp(event) {
  event.preventDefault(); clearError();
  if (!checkRules()) { fail(new Error("The password does not meet every rule yet (see the list).")); $("new-password").focus(); return; }
  const email = $("new-email").value.trim();
  const password = $("new-password").value;
  const body = { email, password };
  if ($("new-name").value.trim()) body.display_name = $("new-name").value.trim();
  try {
    await call("/auth/register", { method: "POST", auth: false, body });
    const result = await webAuth("/login", { email, password });
    $("new-password").value = "";
    if (result.mfa_required) { app.mfaToken = result.mfa_token; showAuth("mfa"); return; }
    say("Welcome! Your account is ready.");
    await signedIn();
  } catch (error) {
    if (error instanceof ApiError && error.slug === "weak-password" && error.problem && error.problem.invalid_params) {
      fail(new Error(error.problem.invalid_params.map((p) => `Password: ${p.reason}`).join(" · ")));
    } else fail(error);
  }
}

async function onSignOut() { await signOut(); signedOut(); }

// --- library ------------------------------------------------------------------------------------
async function detailOf(item) {
  const known = app.details.get(item.id);
  if (known && known.files && known.files.length) return known;
  const detail = await call(`/torrents/${encodeURIComponent(item.id)}`);
  app.details.set(item.id, detail);
  return detail;
}

function playableFiles(detail) { return (detail.files || []).filter((f) => f.streamable); }

async function loadLibrary() {
  let items;
  try { items = (await call("/torrents")).items; } catch (error) { if (error.status !== 401) fail(error); return []; }
  const list = $("library-list");
  const rows = [];
  for (const item of items) {
    let detail = null;
    if (item.state !== "timed-out" && item.state !== "metadata") { try { detail = await detailOf(item); } catch { detail = null; } }
    rows.push(libraryRow(item, detail));
  }
  list.replaceChildren(...rows);
  $("library-empty").hidden = items.length > 0;
  return items;
}

function libraryRow(item, detail) {
  const li = document.createElement("li");
  li.className = "torrent"; li.dataset.id = item.id; li.dataset.state = item.state;
  li.append(text("h3", item.name, "name"));
  const facts = text("p", "", "facts");
  const stateWord = STATE_WORDS[item.state] || item.state;
  facts.append(text("span", stateWord, "state"));
  if (item.total_size) facts.append(text("span", formatSize(item.total_size)));
  facts.append(text("span", `${Math.round(item.progress * 100)}%`));
  facts.append(text("span", `${item.peers} ${item.peers === 1 ? "peer" : "peers"}`));
  if (item.download_rate) facts.append(text("span", `${formatSize(item.download_rate)}/s`));
  li.append(facts);
  const bar = document.createElement("progress");
  bar.max = 1; bar.value = item.progress; bar.setAttribute("aria-label", `${item.name}: ${Math.round(item.progress * 100)}% downloaded`);
  li.append(bar);
  const actions = document.createElement("div");
  actions.className = "actions";
  if (item.state === "timed-out" || item.state === "error") {
    li.append(text("p", item.error || "This torrent failed.", "error"));
    if (item.state === "timed-out") actions.append(button("Retry", () => retry(item)));
  } else if (detail) {
    const files = playableFiles(detail);
    if (!files.length && (detail.files || []).length) li.append(text("p", "This torrent has no video or audio file to play.", "muted"));
    for (const file of files) {
      const play = button("Play", () => startPlaying(detail, file));
      if (files.length > 1) play.textContent = `Play ${file.name.split("/").pop()}`;
      actions.append(play);
    }
  } else if (item.state === "metadata") {
    li.append(text("p", "Asking peers for this torrent's details…", "muted"));
    actions.append(button("Watch when ready", () => { clearError(); window.tsPlayer.playWhenReady(item); }));
  }
  actions.append(button("Remove", () => removeTorrent(item), "danger"));
  li.append(actions);
  return li;
}

function schedulePoll() {
  if (app.pollTimer) clearTimeout(app.pollTimer);
  app.pollTimer = setTimeout(async () => {
    if (!session.access || $("home").hidden) return;
    await loadLibrary();
    schedulePoll();
  }, LIBRARY_POLL_MS);
}

async function retry(item) {
  clearError();
  try { await call(`/torrents/${encodeURIComponent(item.id)}/retry`, { method: "POST" }); say(`Asking peers again for ${item.name}.`); }
  catch (error) { fail(error, { offerRemoval: error.slug === "torrent-limit" }); }
  await loadLibrary();
}

async function removeTorrent(item) {
  clearError();
  try {
    if (window.tsPlayer.playing.torrentId === item.id) stop();
    await call(`/torrents/${encodeURIComponent(item.id)}`, { method: "DELETE" });
    app.details.delete(item.id);
    say(`Removed ${item.name}.`);
  } catch (error) { fail(error); }
  await Promise.all([loadLibrary(), loadContinue()]);
}

// --- continue watching --------------------------------------------------------------------------
async function loadContinue() {
  let items = [];
  try { items = (await call("/me/history?limit=10")).items; } catch { items = []; }
  const list = $("continue-list");
  list.replaceChildren(...items.map((h) => {
    const li = document.createElement("li");
    li.dataset.id = h.torrent_id; li.dataset.file = String(h.file_index);
    const label = document.createElement("span");
    label.append(text("strong", h.torrent_name));
    if (h.file_name) label.append(text("span", ` · ${h.file_name.split("/").pop()}`, "muted"));
    const minutes = Math.floor(h.position_seconds / 60); const seconds = Math.floor(h.position_seconds % 60);
    label.append(text("span", ` · at ${minutes}:${String(seconds).padStart(2, "0")}`, "muted position"));
    li.append(label, button("Continue watching", () => continueWatching(h)));
    return li;
  }));
  $("continue").hidden = items.length === 0;
}

async function continueWatching(h) {
  clearError();
  try {
    const detail = await call(`/torrents/${encodeURIComponent(h.torrent_id)}`);
    const file = (detail.files || []).find((f) => f.index === h.file_index);
    if (!file) throw new Error("This file is not available right now; try again in a moment.");
    await startPlaying(detail, file);
  } catch (error) { fail(error); }
}

async function startPlaying(detail, file) {
  clearError();
  try { await play(detail, file); await loadContinue(); } catch (error) { fail(error); }
}

// --- add ----------------------------------------------------------------------------------------
async function added(torrent) {
  app.details.delete(torrent.id);
  say(`Added ${torrent.name}.`);
  await loadLibrary();
  $("library").scrollIntoView({ block: "nearest" });
}

async function addMagnet(magnet) {
  clearError();
  say("Adding…");
  try { await added(await call("/torrents", { method: "POST", body: { magnet } })); return true; }
  catch (error) { say(""); fail(error, { offerRemoval: error.slug === "torrent-limit" }); return false; }
}

async function onMagnet(event) {
  event.preventDefault();
  const magnet = $("magnet").value.trim();
  if (!magnet) { fail(new Error("Paste a magnet link first (it starts with magnet:?).")); return; }
  if (await addMagnet(magnet)) $("magnet").value = "";
}

async function onUpload(event) {
  event.preventDefault(); clearError();
  const file = $("torrent-file").files[0];
  if (!file) { fail(new Error("Choose a .torrent file first.")); return; }
  const form = new FormData();
  form.append("torrent", file, file.name);
  say("Uploading…");
  try { await added(await call("/torrents", { method: "POST", form })); $("torrent-file").value = ""; }
  catch (error) { say(""); fail(error, { offerRemoval: error.slug === "torrent-limit" }); }
}

// --- start-up: a reload stays signed in through the refresh cookie ---------------------------------
$("login-form").addEventListener("submit", onLogin);
$("mfa-form").addEventListener("submit", onMfa);
$("sign-up-form").addEventListener("submit", onSignUp);
$("new-password").addEventListener("input", checkRules);
$("new-email").addEventListener("input", checkRules);
$("to-sign-up").addEventListener("click", () => { clearError(); showAuth("sign-up"); checkRules(); $("new-email").focus(); });
$("to-sign-in").addEventListener("click", () => { clearError(); showAuth("sign-in"); $("email").focus(); });
$("magnet-form").addEventListener("submit", onMagnet);
$("upload-form").addEventListener("submit", onUpload);
$("sign-out").addEventListener("click", onSignOut);
$("home").hidden = true;
$("auth").hidden = true;
window.tsApp = { addMagnet, clearError, fail, say };
(async () => {
  say("Loading…");
  if (await refreshSession()) { say(""); await signedIn(); } else { say(""); showAuth("sign-in"); }
})();
