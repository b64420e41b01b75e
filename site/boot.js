// Boot glue: it exists before Python does, so the page can show progress at once (the layout is painted, inert,
// with a status line that says what is loading and how far) and `window.teachbox.ready` is a promise a script can
// await from the first moment. Python (teachbox.app) calls teachboxBoot.ready(info) or
// teachboxBoot.fail(message) when start-up ends. The offline copy's lifecycle is offline.js's.
(() => {
  "use strict";
  let settle;
  const ready = new Promise((resolve, reject) => { settle = { resolve, reject }; });
  ready.catch(() => {});  // failures are shown on the page; scripts that await ready still see the rejection
  window.teachbox = { ready };
  const $ = (id) => document.getElementById(id);
  const stamp = () => `${(performance.now() / 1000).toFixed(1)} s`;
  let done = false;

  // What a first visit downloads before Python runs, by what the person is told is loading, with each file's size:
  // build.py writes it in (assemble.stamp_downloads). The status line counts a file once its resource-timing entry
  // exists (the response has ended), so it says how far each download has come without touching the requests.
  const DOWNLOADS = /*__STARTUP_DOWNLOADS__*/ {};
  const mb = (bytes) => (bytes / 1e6).toFixed(1);
  let pythonSpeaks = false;  // from Python's first status on, the status line is Python's

  function show(text, fraction) {
    const el = $("status-text");
    if (el) el.textContent = text;
    const bar = $("boot-progress");
    if (!bar) return;
    if (typeof fraction === "number") bar.value = fraction;
    else bar.removeAttribute("value");  // indeterminate: a step that cannot say how far it is
  }

  /** "Loading Python (Pyodide): 4.1 of 13.5 MB; TensorFlow.js: loaded", then "Starting Python…" once Pyodide's
   *  files are in (compiling its wasm and starting the interpreter is the longest step, and cannot be measured). */
  function showDownloads() {
    if (pythonSpeaks || done) return;
    const arrived = new Set(performance.getEntriesByType("resource").map((entry) => entry.name));
    let got = 0, total = 0, python = true;
    const parts = Object.entries(DOWNLOADS).map(([what, files]) => {
      let have = 0, all = 0;
      for (const [path, size] of Object.entries(files)) {
        all += size;
        if (arrived.has(new URL(path, document.baseURI).href)) have += size;
      }
      got += have;
      total += all;
      if (what.startsWith("Python")) python = have === all;
      return have === all ? `${what}: loaded` : `${what}: ${mb(have)} of ${mb(all)} MB`;
    });
    if (!total) return;  // an unbuilt page (no sizes written in): keep the first line
    const interpreter = window.teachboxInterpreter;
    const restoring = interpreter && interpreter.state.start === "restoring";
    if (restoring || python) {
      const step = restoring ? "Starting Python from the snapshot this browser keeps…"
                             : "Starting Python (compiling Pyodide)…";
      show([step, ...parts.filter((part) => !part.startsWith("Python"))].join("; "));
    } else {
      show(`Loading ${parts.join("; ")}`, got / total);
    }
  }
  if (typeof PerformanceObserver !== "undefined") {
    new PerformanceObserver(showDownloads).observe({ type: "resource", buffered: true });
  }

  const boot = {
    /** The status line, from Python: what it is doing now, and how far (0–1) when it can tell. */
    status(text, fraction) {
      pythonSpeaks = true;
      show(text, fraction);
    },
    showDownloads,
    log(text) {
      const list = $("status-log");
      if (!list) return;
      const item = document.createElement("li");
      item.textContent = `${stamp()}  ${text}`;  // textContent: messages may quote user data
      list.append(item);
    },
    ready(info) {
      done = true;
      document.body.dataset.state = "ready";
      boot.status(`Ready: ${info.base.label || info.base.id} on ${info.backend} in ${stamp()}`);
      boot.log(`ready (base from ${info.base.source})`);
      settle.resolve(info);
    },
    /** A synchronous window.teachbox method from a Python function that returns {value} or {error}: the Error is
     *  thrown here, in JS, because an exception raised in Python reaches JS as a PythonError holding a traceback. */
    syncMethod(call) {
      return (...args) => {
        const outcome = call(...args);
        if (outcome.error) throw outcome.error;
        return outcome.value;
      };
    },
    fail(message) {
      if (done) return;
      done = true;
      document.body.dataset.state = "failed";
      boot.status(message);
      settle.reject(new Error(message));
    },
  };
  window.teachboxBoot = boot;
  // Deferred scripts (TF.js, kernels.js) have all run once DOMContentLoaded fires; main.py awaits this first.
  boot.scripts = new Promise((resolve) => document.addEventListener("DOMContentLoaded", () => {
    boot.log("page loaded; starting Python");
    resolve();
  }));

  // A returning visit restores Python from a snapshot (interpreter.mjs); after a normal start one is made, in a
  // worker, once the page is idle.
  function saveInterpreterSnapshot() {
    const interpreter = window.teachboxInterpreter;
    if (!interpreter || interpreter.state.snapshot !== "none") return;
    const later = window.requestIdleCallback || ((fn) => setTimeout(fn, 500));
    later(async () => {
      const outcome = await interpreter.saveSnapshot();
      boot.log(outcome === "stored" ? "Python snapshot stored: the next start restores it"
                                    : `no Python snapshot (${outcome}); the next start is a normal one`);
    }, { timeout: 5000 });
  }
  /** {start, loadMs, snapshot, note}: how Python started and whether a snapshot is kept, safe for JSON. */
  boot.interpreterState = () => {
    const { start = "unknown", loadMs = null, snapshot = "unavailable", note = null } =
      (window.teachboxInterpreter && window.teachboxInterpreter.state) || {};
    return { start, loadMs, snapshot, note };
  };

  ready.then(saveInterpreterSnapshot, () => {});
  // PyScript reports interpreter start-up failures as errors; surface them instead of loading forever.
  window.addEventListener("error", (event) => {
    if (!done && event.message) boot.fail(`Teachbox could not start: ${event.message}`);
  });
})();
