// The REST client. The access token lives in this module's memory only; the refresh token is kept
// in sessionStorage (this tab) or, with "keep me signed in", localStorage (README, "Web client").
const REFRESH_KEY = "pufferd.refresh";
let accessToken = null;
let accessExpires = 0; // ms since the epoch
let refreshing = null;
const signedOutListeners = new Set();

export class ApiError extends Error {
  constructor(status, detail, retryAfter) {
    super(detailText(detail) || `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
    this.retryAfter = retryAfter;
  }
}

// {"detail": "text"} or a 422 list of {loc, msg}: one readable line
export function detailText(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map(d => {
      const field = (d.loc || []).filter(x => x !== "body" && x !== "query").join(".");
      return field ? `${field}: ${d.msg}` : d.msg;
    }).join("; ");
  }
  if (detail && typeof detail === "object") return JSON.stringify(detail);
  return "";
}

function storedRefresh() {
  return localStorage.getItem(REFRESH_KEY) || sessionStorage.getItem(REFRESH_KEY);
}
function storeRefresh(token, remember) {
  if (remember === undefined) remember = localStorage.getItem(REFRESH_KEY) !== null;
  localStorage.removeItem(REFRESH_KEY);
  sessionStorage.removeItem(REFRESH_KEY);
  if (token) (remember ? localStorage : sessionStorage).setItem(REFRESH_KEY, token);
}

function expiryOf(token) {
  try {
    const payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return payload.exp * 1000;
  } catch { return Date.now() + 60_000; }
}

function setTokens(tokens, remember) {
  accessToken = tokens.access_token;
  accessExpires = expiryOf(accessToken);
  storeRefresh(tokens.refresh_token, remember);
}

export const hasSession = () => Boolean(accessToken || storedRefresh());
export const onSignedOut = fn => { signedOutListeners.add(fn); return () => signedOutListeners.delete(fn); };
export const accessExpiresAt = () => accessExpires;

export function signOutLocally() {
  accessToken = null;
  accessExpires = 0;
  downloadCache.clear(); // signed for the session that ends
  storeRefresh(null);
  for (const fn of [...signedOutListeners]) fn();
}

// Refresh tokens rotate and a reused one revokes the session (theft detection), so tabs sharing
// localStorage refresh one at a time (Web Locks) and each reads the newest token inside the lock.
async function doRefresh() {
  const run = async () => {
    const token = storedRefresh();
    if (!token) throw new ApiError(401, "Signed out");
    const res = await fetch("/api/v1/auth/refresh", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: token }),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      if (res.status === 401 || res.status === 403) signOutLocally();
      throw new ApiError(res.status, body.detail);
    }
    setTokens(body);
    return accessToken;
  };
  return navigator.locks ? navigator.locks.request("pufferd-refresh", run) : run();
}

export function refresh() {
  if (!refreshing) refreshing = doRefresh().finally(() => { refreshing = null; });
  return refreshing;
}

// A usable access token: refreshed a minute before it expires.
export async function token() {
  if (accessToken && accessExpires - Date.now() > 60_000) return accessToken;
  return refresh();
}

export async function api(method, path, body, { auth = true, retry = true } = {}) {
  const headers = {};
  if (auth) headers.Authorization = `Bearer ${await token()}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401 && auth && retry && storedRefresh()) {
    accessToken = null;
    return api(method, path, body, { auth, retry: false });
  }
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data && data.detail, res.headers.get("Retry-After"));
  return data;
}

export const get = (path, opts) => api("GET", path, undefined, opts);
export const post = (path, body, opts) => api("POST", path, body, opts);
export const put = (path, body, opts) => api("PUT", path, body, opts);
export const patch = (path, body, opts) => api("PATCH", path, body, opts);
export const del = (path, opts) => api("DELETE", path, undefined, opts);

export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : "";
}

export async function login(email, password, otpCode, remember) {
  const body = { email, password };
  if (otpCode) body.otp_code = otpCode;
  const tokens = await post("/api/v1/auth/login", body, { auth: false });
  setTokens(tokens, remember);
}

export async function logout() {
  // this device only: end this session (the current access token's entry names it)
  try {
    const sessions = await get("/api/v1/auth/sessions");
    // the synthetic "access" entry is this token; revoking it ends its whole session
    const mine = sessions.find(s => s.current && s.token_type === "access");
    if (mine) await del(`/api/v1/auth/sessions/${encodeURIComponent(mine.jti)}`);
  } catch { /* signed out locally all the same */ }
  signOutLocally();
}

// PUT the file to its signed upload URL with XHR (fetch has no upload progress), then attach.
export function uploadFile(file, onProgress, signal) {
  return new Promise((resolve, reject) => {
    post("/api/v1/media/upload-url", { file_name: file.name || "file", file_type: file.type, file_size: file.size })
      .then(grant => {
        const xhr = new XMLHttpRequest();
        xhr.open("PUT", grant.upload_url);
        for (const [k, v] of Object.entries(grant.required_headers || {})) xhr.setRequestHeader(k, v);
        xhr.upload.onprogress = e => e.lengthComputable && onProgress && onProgress(e.loaded / e.total);
        xhr.onload = () => {
          if (xhr.status >= 200 && xhr.status < 300) resolve(grant);
          else {
            let detail;
            try { detail = JSON.parse(xhr.responseText).detail; } catch { detail = xhr.statusText; }
            reject(new ApiError(xhr.status, detail));
          }
        };
        xhr.onerror = () => reject(new ApiError(0, "Upload failed: network error"));
        if (signal) signal.addEventListener("abort", () => xhr.abort());
        xhr.send(file);
      }, reject);
  });
}

// Signed GET URLs for <img>/<video>/<audio>/downloads, cached until shortly before they expire.
const downloadCache = new Map();
export function downloadUrl(fileUrl) {
  const hit = downloadCache.get(fileUrl);
  if (hit && hit.until > Date.now()) return hit.promise;
  const promise = post("/api/v1/media/download-url", { file_url: fileUrl }).then(r => r.download_url);
  const ttl = 240_000;
  downloadCache.set(fileUrl, { promise, until: Date.now() + ttl });
  promise.catch(() => downloadCache.delete(fileUrl));
  return promise;
}
