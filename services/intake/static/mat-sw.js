// The console's shell for an offline reload: the page, its script and its style, network first and
// the cached copy when the network is down. API requests (/v1/...) are never touched: they fail
// offline, and the page keeps their results waiting in its IndexedDB outbox.
"use strict";
const CACHE = "mat-console-v1";
const NETWORK_WAIT_MS = 3000;
const SHELL = ["/static/mat/mat.js", "/static/mat/mat.css"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  const shell = url.origin === self.location.origin && (url.pathname.startsWith("/mat/") || url.pathname.startsWith("/static/mat/"));
  if (event.request.method !== "GET" || !shell) return;
  // Network first, but a venue network that hangs must not hold the console: the cache after 3 s.
  const fromNetwork = fetch(event.request).then((resp) => {
    if (resp.ok) { const copy = resp.clone(); caches.open(CACHE).then((c) => c.put(event.request, copy)); }
    return resp;
  });
  const patience = new Promise((resolve, reject) => setTimeout(() => reject(new Error("slow network")), NETWORK_WAIT_MS));
  event.respondWith(
    Promise.race([fromNetwork, patience]).catch(() => caches.match(event.request).then((hit) => hit || fromNetwork)),
  );
});
