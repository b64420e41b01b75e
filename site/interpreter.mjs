// The interpreter module PyScript loads (pyscript.json "interpreter"): Pyodide, restored from a memory snapshot of
// its own start-up when this browser has stored one, started normally otherwise.
//
// Why: starting Pyodide (instantiating the interpreter, importing its start-up modules) is the longest step of
// Teachbox's start, paid on every visit; restoring a snapshot of the interpreter's memory right after that start is
// several times faster (figures: docs/decisions.md). The snapshot is made once per browser and Pyodide runtime, after the first start, by a
// worker (snapshot-worker.mjs), so this page's own interpreter never runs in snapshot-making mode and the first
// visit's start is not slowed down. It is kept in Cache Storage (never sent anywhere), keyed by a digest of the
// Pyodide runtime files that build.py writes in below: a new Pyodide invalidates it, an app update does not.
//
// A restored interpreter shares the state the snapshot captured. Two things are re-drawn or noted: `random` is
// reseeded from the OS entropy source (else every visit would replay the same sequence); Python's string-hash
// seed stays the snapshot's (dict and set order is still per-process stable; hash flooding is a server concern).
// Any failure to read or restore falls back to a normal start and drops the stored snapshot, which is made again.
import { loadPyodide as startPyodide, version } from "./vendor/pyodide/pyodide.mjs";

export { version };

const RUNTIME = "__PYODIDE_RUNTIME_DIGEST__";  // build.py: SHA-256 of the Pyodide runtime files (first 16 hex)
const CACHE = "pyodide-snapshots";  // not "teachbox-…": sw.js deletes every other cache of that prefix
const KEY = new URL(`pyodide-snapshot/${version}/${RUNTIME}`, import.meta.url).href;
const INDEX_URL = new URL("vendor/pyodide/", import.meta.url).href;

/** How this page's Python started; Python's info() reports it as `interpreter`. */
const state = {
  start: "pending",   // "restoring" (a stored snapshot was found) | "snapshot" | "fresh"
  loadMs: null,       // loadPyodide, including reading the snapshot
  snapshot: "none",   // "stored" (one is kept) | "saving" | "none" | "unavailable: …" | "failed: …"
  note: null,         // why a stored snapshot was not used, if it was not
  saved: null,        // a promise while a snapshot is being made (scripts and tests may await it)
};

async function readStored() {
  if (typeof caches === "undefined") {  // insecure contexts (plain http off localhost) have no Cache Storage
    state.snapshot = "unavailable: Cache Storage needs https or localhost";
    return null;
  }
  try {
    const hit = await (await caches.open(CACHE)).match(KEY);
    return hit ? new Uint8Array(await hit.arrayBuffer()) : null;
  } catch (error) {
    state.note = `could not read the stored snapshot (${error.message})`;
    return null;
  }
}

/** PyScript calls this with its options (stdout, stderr, indexURL = this module's folder, which is not Pyodide's). */
export async function loadPyodide(options) {
  const started = performance.now();
  const snapshot = await readStored();
  let pyodide = null;
  if (snapshot) {
    state.start = "restoring";
    globalThis.teachboxBoot?.showDownloads();  // the status line says so: no compile to wait for
    try {
      pyodide = await startPyodide({ ...options, indexURL: INDEX_URL, _loadSnapshot: snapshot });
      pyodide.runPython("import random; random.seed()");
      state.start = "snapshot";
      state.snapshot = "stored";
    } catch (error) {
      state.note = `the stored snapshot could not be restored (${error.message}); started normally`;
      state.start = "pending";
      await caches.delete(CACHE).catch(() => {});
      pyodide = null;
    }
  }
  if (!pyodide) {
    pyodide = await startPyodide({ ...options, indexURL: INDEX_URL });
    state.start = "fresh";
  }
  state.loadMs = Math.round(performance.now() - started);
  return pyodide;
}

/** Make and store a snapshot in a worker, if none is stored and this browser can keep one. Resolves with the
 *  state; never rejects (a failure only means the next start is a normal one). */
function saveSnapshot() {
  if (state.snapshot !== "none") return Promise.resolve(state.snapshot);
  state.snapshot = "saving";
  state.saved = new Promise((resolve) => {
    const worker = new Worker(new URL("snapshot-worker.mjs", import.meta.url), { type: "module" });
    const finish = (outcome) => {
      worker.terminate();
      state.snapshot = outcome;
      resolve(outcome);
    };
    worker.onmessage = ({ data }) => finish(data.ok ? "stored" : `failed: ${data.error}`);
    worker.onerror = (event) => finish(`failed: ${event.message || "the snapshot worker did not start"}`);
    worker.postMessage({ cache: CACHE, key: KEY, indexURL: INDEX_URL });
  });
  return state.saved;
}

globalThis.teachboxInterpreter = { state, saveSnapshot };
