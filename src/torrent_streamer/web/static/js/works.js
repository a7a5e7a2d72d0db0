// Search by work (/api/v1/catalog/works): one row per title with its release count, best resolution, swarm
// health and whether it plays here; tapping a title lists its releases (GET …/works/{id}/releases, sortable)
// with an Add button that goes through the app's own add-by-magnet flow (window.tsApp.addMagnet, player.js).
// Every server string is written with textContent.
const { call, ApiError } = window.tsApi;
const { formatSize } = window.tsPlayer;
const { addMagnet, clearError } = window.tsApp;
const $ = (id) => document.getElementById(id);
const FILTERS = ["resolution", "codec", "language", "year", "season", "episode"];
const PAGE_SIZE = "20"; // titles, and releases of a title, per page
const WEAK_BELOW = 5; // seeders: fewer is a swarm that may stall
const PLAYABLE_WORDS = {
  direct: ["Plays directly", "This browser plays the file as it is."],
  remux: ["Plays after remux", "The video plays as it is; the container or audio is converted on the fly."],
  transcode: ["Needs transcoding", "This browser cannot decode the video; the server must convert it."],
  unknown: ["Format unknown", "The release name does not say the video format."],
};
const SORT_WORDS = { health: "Health", size: "Size", resolution: "Resolution" };
const CODEC_WORDS = { h264: "H.264", hevc: "HEVC", av1: "AV1", vp9: "VP9", xvid: "XviD", divx: "DivX", mpeg2: "MPEG-2" };
const state = { query: null, filters: {}, nextCursor: null, searchToken: 0 };

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function message(text, kind = "info") {
  const box = $("search-message");
  box.textContent = text;
  box.dataset.kind = kind;
}

// A person's sentence for a failed call; the problem's own detail when the server wrote one for people.
function explain(error, what) {
  if (!(error instanceof ApiError)) return `Could not reach the server while ${what}; check the connection and try again.`;
  if (error.status === 429) return "Too many searches in a short time; wait a minute and try again.";
  if (error.status === 422 && error.problem && Array.isArray(error.problem.invalid_params)) {
    const names = error.problem.invalid_params.map((p) => String(p.name || "").split(".").pop()).filter(Boolean);
    return names.length ? `Check these filters: ${[...new Set(names)].join(", ")}.` : "A filter is not valid; check the filters.";
  }
  if (error.status === 404) return "This title is no longer in the catalog; search again.";
  if (error.status >= 500) return `The server had a problem while ${what}; try again in a moment.`;
  return error.message;
}

// --- health and playability, in words (colour only repeats them) ---------------------------------------
function ago(iso) {
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (!Number.isFinite(seconds) || seconds < 90) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 36) return `${hours} h ago`;
  return `${Math.round(hours / 24)} days ago`;
}

function health(release) {
  const seeders = release.seeders;
  const level = seeders <= 0 ? "dead" : seeders < WEAK_BELOW ? "weak" : "healthy";
  const word = { dead: "No seeders", weak: "Few seeders", healthy: "Healthy" }[level];
  const count = seeders > 0 ? ` · ${seeders} ${seeders === 1 ? "seeder" : "seeders"}` : "";
  const checked = release.health_checked_at ? `checked ${ago(release.health_checked_at)}` : "not checked yet";
  const span = el("span", null, "health");
  span.dataset.health = level;
  span.append(el("span", `${word}${count}`, "health-word"), el("span", ` (${checked})`, "muted"));
  return span;
}

function badge(playable) {
  const [words, hint] = PLAYABLE_WORDS[playable] || PLAYABLE_WORDS.unknown;
  const span = el("span", words, "badge");
  span.dataset.playable = playable in PLAYABLE_WORDS ? playable : "unknown";
  span.title = hint;
  return span;
}

function episodeLabel(season, episode) {
  const pad = (n) => String(n).padStart(2, "0");
  if (season !== null && season !== undefined && episode !== null && episode !== undefined) return `S${pad(season)}E${pad(episode)}`;
  if (season !== null && season !== undefined) return `Season ${season}`;
  if (episode !== null && episode !== undefined) return `Episode ${episode}`;
  return "";
}

// The title as a person names it: "Dune (2021)", "The Bear · S02E03", "Frieren · Episode 12".
function workName(work) {
  const name = work.year ? `${work.title} (${work.year})` : work.title;
  const part = work.kind === "show" ? episodeLabel(work.season, work.episode) : "";
  return part ? `${name} · ${part}` : name;
}

function kindLabel(work) { return work.kind === "movie" ? "Movie" : "Show"; } // the episode is in the name

// --- one release ---------------------------------------------------------------------------------------
function releaseFacts(release) {
  const codec = release.video_codec ? CODEC_WORDS[release.video_codec] || release.video_codec.toUpperCase() : null;
  const audio = release.audio_codec ? [release.audio_codec.toUpperCase(), release.audio_channels].filter(Boolean).join(" ") : null;
  const languages = (release.languages || []).map((code) => code.toUpperCase()).join(", ");
  return [release.resolution || "Resolution unknown", release.source, codec, release.hdr ? release.hdr.toUpperCase() : null, audio,
    languages || null, episodeLabel(release.season, release.episode) || null, release.group ? `by ${release.group}` : null].filter(Boolean);
}

async function addRelease(release, addButton) {
  addButton.disabled = true;
  addButton.textContent = "Adding…";
  const ok = await addMagnet(release.magnet); // the app's add flow: library refresh, limit handling, errors
  addButton.textContent = ok ? "Added" : "Add";
  addButton.disabled = ok;
  if (!ok) $("error").scrollIntoView({ block: "nearest" });
}

function releaseRow(release) {
  const li = el("li", null, "release");
  li.dataset.id = release.id;
  li.dataset.health = release.seeders > 0 ? "alive" : "dead";
  li.append(el("p", releaseFacts(release).join(" · "), "release-facts"));
  const facts = el("p", null, "facts");
  facts.append(health(release), badge(release.playable), el("span", formatSize(release.size_bytes), "size"));
  li.append(facts, el("p", release.name, "release-name muted small"));
  const add = el("button", "Add");
  add.type = "button";
  add.addEventListener("click", () => addRelease(release, add));
  const actions = el("div", null, "actions");
  actions.append(add);
  li.append(actions);
  return li;
}

// --- a work and its releases ---------------------------------------------------------------------------
// The first page replaces the list (a new sort); "More releases" appends the next one.
async function loadReleases(work, box, sort, cursor = null) {
  const list = box.querySelector("ul");
  const note = box.querySelector(".releases-note");
  const more = box.querySelector("button.more");
  more.hidden = true;
  note.textContent = "Loading releases…";
  const params = new URLSearchParams({ sort, limit: PAGE_SIZE, ...state.filters });
  if (cursor) params.set("cursor", cursor);
  try {
    const page = await call(`/catalog/works/${encodeURIComponent(work.id)}/releases?${params}`);
    const rows = page.items.map(releaseRow);
    if (cursor) list.append(...rows); else list.replaceChildren(...rows);
    const shown = list.children.length;
    more.hidden = !page.next_cursor;
    more.onclick = () => loadReleases(work, box, sort, page.next_cursor);
    note.textContent = shown
      ? `${shown} ${shown === 1 ? "release" : "releases"}${page.next_cursor ? " so far" : ""}, by ${SORT_WORDS[sort].toLowerCase()}.`
      : "No release matches the filters.";
  } catch (error) {
    if (!cursor) list.replaceChildren();
    note.textContent = explain(error, "loading the releases");
  }
}

function releasesBox(work) {
  const box = el("div", null, "releases");
  box.id = `releases-${work.id}`;
  box.hidden = true;
  const sortId = `sort-${work.id}`;
  const bar = el("div", null, "sort");
  const label = el("label", "Sort by");
  label.htmlFor = sortId;
  const select = el("select");
  select.id = sortId;
  for (const [value, words] of Object.entries(SORT_WORDS)) {
    const option = el("option", words);
    option.value = value;
    select.append(option);
  }
  select.addEventListener("change", () => loadReleases(work, box, select.value));
  bar.append(label, select);
  const list = el("ul", null, "release-list");
  list.setAttribute("aria-label", `Releases of ${work.title}`);
  const more = el("button", "More releases", "secondary more");
  more.type = "button";
  more.hidden = true;
  box.append(bar, el("p", "", "releases-note muted small"), list, more);
  return box;
}

function workRow(work) {
  const li = el("li", null, "work");
  li.dataset.id = work.id;
  const heading = el("h3");
  const open = el("button", workName(work), "work-open");
  open.type = "button";
  open.setAttribute("aria-expanded", "false");
  heading.append(open);
  const best = work.best_release;
  const facts = el("p", null, "facts");
  facts.append(el("span", kindLabel(work), "kind"));
  facts.append(el("span", `${work.release_count} ${work.release_count === 1 ? "release" : "releases"}`, "count"));
  if (best) facts.append(el("span", `Best: ${best.resolution || "resolution unknown"}`, "best"), health(best));
  facts.append(badge(work.playable));
  const box = releasesBox(work);
  open.setAttribute("aria-controls", box.id);
  open.addEventListener("click", async () => {
    const opening = box.hidden;
    box.hidden = !opening;
    open.setAttribute("aria-expanded", String(opening));
    if (opening) await loadReleases(work, box, box.querySelector("select").value);
  });
  li.append(heading, facts, box);
  return li;
}

// --- the search form -------------------------------------------------------------------------------------
function readFilters() {
  const filters = {};
  for (const name of FILTERS) {
    const field = $(`f-${name}`);
    const value = field.value.trim();
    if (!value) continue;
    if (field.type === "number" && !field.checkValidity()) {
      const label = document.querySelector(`label[for="f-${name}"]`).textContent;
      throw new Error(`${label}: enter a whole number from ${field.min} to ${field.max}.`);
    }
    filters[name] = value;
  }
  return filters;
}

async function onSearch(event) {
  event.preventDefault();
  clearError();
  const q = $("q").value.trim();
  $("q").removeAttribute("aria-invalid");
  if (!q) {
    $("results").replaceChildren();
    $("more-works").hidden = true;
    $("q").setAttribute("aria-invalid", "true");
    message("Type a title to search for, such as “dune 2021” or “the bear s02e03”.", "error");
    $("q").focus();
    return;
  }
  let filters;
  try { filters = readFilters(); } catch (error) { message(error.message, "error"); return; }
  state.searchToken += 1;
  await loadWorks(state.searchToken, q, filters, null);
}

// The first page replaces the results; "More titles" appends the next page of the same search.
async function loadWorks(token, q, filters, cursor) {
  $("more-works").hidden = true;
  message(cursor ? "Loading more titles…" : "Searching…");
  const params = new URLSearchParams({ q, limit: PAGE_SIZE, ...filters });
  if (cursor) params.set("cursor", cursor);
  try {
    const page = await call(`/catalog/works?${params}`);
    if (token !== state.searchToken) return; // a newer search started meanwhile
    Object.assign(state, { query: q, filters, nextCursor: page.next_cursor });
    const rows = page.items.map(workRow);
    if (cursor) $("results").append(...rows); else $("results").replaceChildren(...rows);
    const shown = $("results").children.length;
    const filtered = Object.keys(filters).length ? " with these filters" : "";
    $("more-works").hidden = !page.next_cursor;
    if (!shown) message(`Nothing found for “${q}”${filtered}. Check the spelling, or clear the filters.`, "empty");
    else message(`${shown} ${shown === 1 ? "title" : "titles"} for “${q}”${filtered}${page.next_cursor ? " so far" : ""}. Open a title to see its releases.`);
  } catch (error) {
    if (token !== state.searchToken) return;
    if (!cursor) $("results").replaceChildren();
    message(explain(error, "searching"), "error");
  }
}

function moreWorks() {
  if (state.query && state.nextCursor) loadWorks(state.searchToken, state.query, state.filters, state.nextCursor);
}

function clearFilters() {
  for (const name of FILTERS) $(`f-${name}`).value = "";
  $("q").focus();
}

$("search-form").addEventListener("submit", onSearch);
$("clear-filters").addEventListener("click", clearFilters);
$("more-works").addEventListener("click", moreWorks);
