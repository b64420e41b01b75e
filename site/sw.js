// Teachbox's offline service worker. This is a template: `python build.py` writes dist/sw.js from it, filling in the
// build digest and the file list of build-manifest.json (py/teachbox_build/service_worker.py).
//
// - install: precache every file of the build into the cache `teachbox-<build>`, each fetch checked against its
//   SHA-256 (subresource integrity), so the cache holds exactly one build. Any failure fails the install and the
//   previous version stays in charge.
// - activate: delete every other teachbox cache, then take control of open pages.
// - fetch: same-origin GETs of the build's files (and navigations to the site root) come from that cache. The
//   build's sample data sets (ON_DEMAND: samples/<slug>/…) are not precached but cached on first use, with the same
//   integrity check, in the same cache (why: py/teachbox_build/service_worker.py). Everything else (other paths such
//   as a user's /datasets/…, other origins, non-GET) is left to the browser untouched and is never cached. Nothing
//   here sees IndexedDB or the images a user picks.
// - message {type: "skip-waiting"}: a waiting new version takes over (the page's "New version available" button);
//   {type: "status"}: replies on the given port with {build, cache, files, bytes}.
"use strict";

const BUILD = "__TEACHBOX_BUILD__";
const PRECACHE = [/* __TEACHBOX_PRECACHE__ */];  // [path relative to the site root, integrity, bytes]
const ON_DEMAND = [/* __TEACHBOX_ON_DEMAND__ */];  // the same, for files cached when first fetched
const PREFIX = "teachbox-";
const CACHE = `${PREFIX}${BUILD}`;
const SCOPE = new URL(self.registration.scope);
const INDEX = new URL("index.html", SCOPE).pathname;
const FILES = new Set(PRECACHE.map(([path]) => new URL(path, SCOPE).pathname));
const BYTES = PRECACHE.reduce((sum, [, , bytes]) => sum + bytes, 0);
const LAZY = new Map(ON_DEMAND.map(([path, integrity]) => [new URL(path, SCOPE).pathname, integrity]));

self.addEventListener("install", (event) => {
  event.waitUntil(precache());
});

async function precache() {
  // A cache of the same build can exist already (an earlier install of this build): its entries passed the same
  // integrity checks, so it is refilled in place and never deleted here; a new build's partial cache is.
  const existed = await caches.has(CACHE);
  const cache = await caches.open(CACHE);
  // allSettled, not all: a failure must not delete the cache while other files are still being put into it (a put
  // that lands after the delete brings the partial cache back).
  const outcomes = await Promise.allSettled(PRECACHE.map(async ([path, integrity]) => {
    const url = new URL(path, SCOPE);
    // no-cache: revalidate with the server (never a stale HTTP-cache copy); integrity: the exact bytes of this build.
    const response = await fetch(url, { cache: "no-cache", integrity, redirect: "error" });
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
    await cache.put(url, response);
  }));
  const failed = outcomes.find((outcome) => outcome.status === "rejected");
  if (failed) {
    if (!existed) await caches.delete(CACHE);
    throw failed.reason;
  }
}

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith(PREFIX) && key !== CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  let path = url.pathname;
  if (request.mode === "navigate" && path === SCOPE.pathname) path = INDEX;
  if (LAZY.has(path)) {
    event.respondWith(onDemand(path));
    return;
  }
  if (!FILES.has(path)) return;  // not part of the build: straight to the network, not cached
  event.respondWith(fromCache(path, request));
});

async function fromCache(path, request) {
  const cache = await caches.open(CACHE);
  // The query string is ignored (`/?backend=cpu` is the page; a build file has one content whatever the query).
  const hit = await cache.match(new URL(path, self.location.origin));
  return hit || fetch(request);  // only if the cache was damaged or cleared under us
}

async function onDemand(path) {
  // A sample file: from the cache once fetched; the first time from the network, only the bytes of this build
  // (integrity), then kept for offline use. A failure is a network error for the page, which reports the row.
  const cache = await caches.open(CACHE);
  const url = new URL(path, self.location.origin);
  const hit = await cache.match(url);
  if (hit) return hit;
  const response = await fetch(url, { cache: "no-cache", integrity: LAZY.get(path), redirect: "error" });
  if (response.ok) await cache.put(url, response.clone());
  return response;
}

self.addEventListener("message", (event) => {
  const message = event.data || {};
  if (message.type === "skip-waiting") {
    self.skipWaiting();
  } else if (message.type === "status" && event.ports[0]) {
    event.ports[0].postMessage({ build: BUILD, cache: CACHE, files: PRECACHE.length, bytes: BYTES });
  }
});
