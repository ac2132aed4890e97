// Shared helpers: the html tag, a tiny store with a hook, routing, formatting.
import { h, render, Fragment } from "../vendor/preact.mjs";
import { useEffect, useState, useRef, useCallback, useMemo, useLayoutEffect } from "../vendor/preact-hooks.mjs";
import htm from "../vendor/htm.mjs";

export const html = htm.bind(h);
export { h, render, Fragment, useEffect, useState, useRef, useCallback, useMemo, useLayoutEffect };

// A store: one mutable state object; `bump()` tells subscribed components to re-render. Batched
// per animation frame so a burst of socket events costs one render; `bump(true)` renders at once.
export function createStore(state) {
  const listeners = new Set();
  let scheduled = false;
  const store = {
    state,
    version: 0,
    subscribe(fn) { listeners.add(fn); return () => listeners.delete(fn); },
    // NOW: render at once (an answer someone waits for), not at the next frame
    bump(now = false) {
      store.version++;
      if (scheduled && !now) return;
      scheduled = true;
      const run = () => { if (!scheduled) return; scheduled = false; for (const fn of [...listeners]) fn(store.version); };
      if (!now && typeof requestAnimationFrame === "function" && !document.hidden) requestAnimationFrame(run);
      else queueMicrotask(run);
    },
  };
  return store;
}

export function useStore(store) {
  const [, setV] = useState(0);
  const seen = store.version;
  useEffect(() => {
    const off = store.subscribe(setV);
    if (store.version !== seen) setV(store.version); // changed between render and subscription
    return off;
  }, [store]);
  return store.state;
}

// Routing: the History API; every client route is served the same shell by pufferd.
const routeListeners = new Set();
export function navigate(path, { replace = false } = {}) {
  if (path === location.pathname + location.search) return;
  history[replace ? "replaceState" : "pushState"](null, "", path);
  for (const fn of [...routeListeners]) fn();
}
addEventListener("popstate", () => { for (const fn of [...routeListeners]) fn(); });
export function useRoute() {
  const [, setN] = useState(0);
  useEffect(() => { const fn = () => setN(n => n + 1); routeListeners.add(fn); return () => routeListeners.delete(fn); }, []);
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}
export function link(e) {
  // <a href> clicks stay in the app (keyboard and middle-click keep their browser meaning)
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.currentTarget;
  if (a.origin !== location.origin) return;
  e.preventDefault();
  navigate(a.pathname + a.search);
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayFmt = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
export function shortTime(iso) {
  if (!iso) return "";
  const d = new Date(iso), now = new Date();
  return d.toDateString() === now.toDateString() ? timeFmt.format(d) : dayFmt.format(d);
}
export const clock = iso => (iso ? timeFmt.format(new Date(iso)) : "");
export const fullTime = iso => (iso ? fullFmt.format(new Date(iso)) : "");
export function lastSeen(iso) {
  if (!iso) return "last seen recently";
  const mins = Math.round((Date.now() - new Date(iso)) / 60000);
  if (mins < 1) return "last seen just now";
  if (mins < 60) return `last seen ${mins} min ago`;
  return `last seen ${fullTime(iso)}`;
}
export function fileSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
export function initials(name) {
  const parts = (name || "?").trim().split(/\s+/u).slice(0, 2);
  return parts.map(p => [...p][0] || "").join("").toUpperCase() || "?";
}
// a stable hue per id, for avatars without a picture
export const hue = id => ((Number(id) || 0) * 47) % 360;
export const cls = (...names) => names.filter(Boolean).join(" ");
export const uid = () => (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`);

// Split TEXT around the words of QUERY (accent- and case-insensitive prefix matches, like the
// server's search) so results can be highlighted without innerHTML.
const fold = s => s.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
export function highlight(text, query) {
  const words = (query || "").split(/\s+/u).filter(Boolean).map(fold);
  if (!text || !words.length) return text || "";
  const out = [];
  const re = /[\p{L}\p{N}_]+/gu;
  let last = 0, m;
  while ((m = re.exec(text))) {
    const w = fold(m[0]);
    if (words.some(q => w.startsWith(q))) {
      if (m.index > last) out.push(text.slice(last, m.index));
      out.push(html`<mark>${m[0]}</mark>`);
      last = m.index + m[0].length;
    }
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}
