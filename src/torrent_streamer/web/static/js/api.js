// The web app's API client. The access token lives in this page's memory only; the refresh token lives
// in an HttpOnly cookie the page cannot read (/api/v1/auth/web/*, docs/auth.md), so a reload stays signed
// in and an injected script finds no refresh token. Every call sends the CSRF header the cookie routes need.
const API = "/api/v1";
const WEB_AUTH = `${API}/auth/web`;
const session = { access: null, onSignedOut: null };

class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `Something went wrong (HTTP ${status}).`);
    this.status = status;
    this.problem = problem;
    this.slug = problem && typeof problem.type === "string" ? problem.type.split(/[/:]/).pop() : "";
  }
}

async function readProblem(response) {
  try { return await response.json(); } catch { return null; }
}

const wait = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

// One refresh at a time per page; another tab may rotate the cookie first (409: wait, then try again).
let refreshing = null;
async function refreshSession() {
  if (!refreshing) {
    refreshing = (async () => {
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const response = await fetch(`${WEB_AUTH}/refresh`, { method: "POST", headers: { "X-TS-CSRF": "1", Accept: "application/json" }, credentials: "same-origin", cache: "no-store" });
        if (response.ok) { session.access = (await response.json()).access_token; return true; }
        if (response.status !== 409) break;
        await wait(400);
      }
      // A failed refresh signs out for real: logout ends the family on the server and clears the cookie.
      session.access = null;
      try { await fetch(`${WEB_AUTH}/logout`, { method: "POST", headers: { "X-TS-CSRF": "1" }, credentials: "same-origin" }); } catch { /* signed out locally anyway */ }
      return false;
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

async function call(path, { method = "GET", body, form, auth = true, retry = true, raw = false } = {}) {
  const headers = { Accept: raw ? "*/*" : "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth && session.access) headers.Authorization = `Bearer ${session.access}`;
  const url = path.startsWith("/api/") ? path : API + path;
  const payload = form !== undefined ? form : body === undefined ? undefined : JSON.stringify(body);
  const response = await fetch(url, { method, headers, body: payload, credentials: "omit", cache: "no-store" });
  if (response.status === 401 && auth && retry) {
    if (await refreshSession()) return call(path, { method, body, form, auth, retry: false, raw });
    if (session.onSignedOut) session.onSignedOut("Your session has ended; sign in again.");
  }
  if (!response.ok) throw new ApiError(response.status, await readProblem(response));
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

async function webAuth(path, body) {
  const response = await fetch(`${WEB_AUTH}${path}`, {
    method: "POST", headers: { "X-TS-CSRF": "1", "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body), credentials: "same-origin", cache: "no-store",
  });
  if (!response.ok) throw new ApiError(response.status, await readProblem(response));
  const result = await response.json();
  if (result.access_token) session.access = result.access_token;
  return result;
}

async function signOut({ everywhere = false } = {}) {
  if (everywhere && session.access) { try { await call("/auth/logout-all", { method: "POST", retry: false }); } catch { /* the cookie goes below anyway */ } }
  try { await fetch(`${WEB_AUTH}/logout`, { method: "POST", headers: { "X-TS-CSRF": "1" }, credentials: "same-origin" }); } catch { /* signed out locally anyway */ }
  session.access = null;
}

window.tsApi = { API, ApiError, call, webAuth, refreshSession, signOut, session, wait };
