// pufferd's service worker: keeps the app shell for offline starts. Assets live under a
// versioned path and never change, so they are served from the cache first; the HTML shell is
// fetched from the network and falls back to the cached copy offline. The API and the socket are
// never cached.
const VERSION = "%VERSION%";
const CACHE = `pufferd-shell-${VERSION}`;
const SHELL = ["%SHELL%"];

self.addEventListener("install", event => {
  event.waitUntil(caches.open(CACHE).then(c => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", event => {
  event.waitUntil(caches.keys()
    .then(keys => Promise.all(keys.filter(k => k.startsWith("pufferd-shell-") && k !== CACHE).map(k => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", event => {
  const req = event.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== location.origin) return;
  if (url.pathname.startsWith("/assets/")) {
    event.respondWith(caches.match(req).then(hit => hit || fetch(req)));
  } else if (req.mode === "navigate") {
    event.respondWith(fetch(req).catch(() => caches.match("/")));
  }
});
