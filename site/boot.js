// Boot glue, deliberately tiny: it exists before Python does, so the page can show progress at once and
// `window.teachbox.ready` is a promise a script can await from the first moment. Python (teachbox.app) calls
// teachboxBoot.ready(info) or teachboxBoot.fail(message) when start-up ends.
(() => {
  "use strict";
  let settle;
  const ready = new Promise((resolve, reject) => { settle = { resolve, reject }; });
  ready.catch(() => {});  // failures are shown on the page; scripts that await ready still see the rejection
  window.teachbox = { ready };
  const $ = (id) => document.getElementById(id);
  const stamp = () => `${(performance.now() / 1000).toFixed(1)} s`;
  let done = false;
  const boot = {
    status(text) {
      const el = $("status-text");
      if (el) el.textContent = text;
    },
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

  // -- Offline copy (sw.js) and storage persistence --------------------------------------------------------------
  // Started once start-up has settled, so precaching never competes with the interpreter for the CPU. The state is
  // readable at any time as teachboxBoot.offline (and teachboxBoot.persisted) for info() and for scripts.
  const offline = { serviceWorker: "pending", controlled: false, build: null, files: 0, bytes: 0, persisted: null };
  boot.offline = offline;
  boot.persisted = null;
  const mb = (bytes) => `${(bytes / 1048576).toFixed(1)} MB`;
  let registration = null;
  let reloading = false;
  let hadController = false;  // the page is (or was) controlled: a controller change now means a new version
  let controlledAtStart = false;

  function showNotice(text, worker) {
    const box = $("update-notice");
    if (!box) return;
    $("update-text").textContent = text;
    box.hidden = false;
    $("update-reload").onclick = () => {
      reloading = true;
      if (worker && worker.state === "installed") {
        worker.postMessage({ type: "skip-waiting" });  // controllerchange then reloads the page
        setTimeout(() => location.reload(), 3000);  // in case the new worker never takes over
      } else {
        location.reload();
      }
    };
  }

  function askWorker(worker) {  // {build, cache, files, bytes} from a worker, or null
    return new Promise((resolve) => {
      const channel = new MessageChannel();
      const timer = setTimeout(() => resolve(null), 5000);
      channel.port1.onmessage = (event) => { clearTimeout(timer); resolve(event.data); };
      worker.postMessage({ type: "status" }, [channel.port2]);
    });
  }

  async function describeActive() {
    const worker = registration && registration.active;
    const status = worker && await askWorker(worker);
    offline.controlled = Boolean(navigator.serviceWorker.controller);
    if (status) Object.assign(offline, { serviceWorker: "active", build: status.build, files: status.files,
                                         bytes: status.bytes });
    return status;
  }

  const watched = new WeakSet();  // `installing` right after register() and `updatefound` can name the same worker
  function watch(worker) {
    if (!worker || watched.has(worker)) return;
    watched.add(worker);
    offline.serviceWorker = "installing";
    worker.addEventListener("statechange", async () => {
      if (worker.state === "installed" && navigator.serviceWorker.controller) {
        offline.serviceWorker = "update-waiting";
        boot.log("a new version of Teachbox is ready");
        showNotice("New version available —", worker);
      } else if (worker.state === "activated") {
        const status = await describeActive();
        if (!status) return;
        boot.log(controlledAtStart
          ? `version ${status.build} is now active; reload this tab to use it`
          : `offline copy ready: build ${status.build}, ${status.files} files, ${mb(status.bytes)}`);
      } else if (worker.state === "redundant" && !reloading) {
        if (registration && registration.active) {
          boot.log("a new version could not be downloaded completely; this one stays in use");
        } else {
          offline.serviceWorker = "failed";
          boot.log("could not store the offline copy (a file failed to download or verify); will retry next visit");
        }
      }
    });
  }

  async function startOffline() {
    if (!("serviceWorker" in navigator) || !window.isSecureContext) {
      offline.serviceWorker = "unsupported";
      boot.log("offline use unavailable here (service workers need https or localhost)");
      return;
    }
    hadController = controlledAtStart = Boolean(navigator.serviceWorker.controller);
    navigator.serviceWorker.addEventListener("controllerchange", () => {
      if (reloading) { location.reload(); return; }
      // This tab still runs the old version: offer a reload rather than switching it under the user's feet.
      if (hadController) showNotice("Teachbox was updated in another tab —", null);
      hadController = true;
      offline.controlled = true;
    });
    try {
      // Scope: the folder of the page (the site root). updateViaCache "none": sw.js is always checked with the server.
      registration = await navigator.serviceWorker.register("sw.js", { scope: "./", updateViaCache: "none" });
    } catch (error) {
      offline.serviceWorker = "failed";
      boot.log(`offline use unavailable: ${error.message}`);
      return;
    }
    if (!registration) {  // a browser or automation that blocks service workers resolves with nothing
      offline.serviceWorker = "unsupported";
      boot.log("offline use unavailable: service workers are blocked here");
      return;
    }
    if (registration.installing) watch(registration.installing);
    if (registration.waiting && navigator.serviceWorker.controller) {
      offline.serviceWorker = "update-waiting";
      showNotice("New version available —", registration.waiting);
    } else if (registration.active) {
      const status = await describeActive();
      if (status) boot.log(`offline copy: build ${status.build} (${mb(status.bytes)})` +
                           (offline.controlled ? ", page served from it" : ""));
    }
    registration.addEventListener("updatefound", () => watch(registration.installing));
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") registration.update().catch(() => {});
    });
  }

  async function requestPersistence() {
    if (!navigator.storage || !navigator.storage.persist) return;
    try {
      const persisted = (await navigator.storage.persisted()) || (await navigator.storage.persist());
      boot.persisted = offline.persisted = persisted;
      boot.log(persisted
        ? "storage: persistent (the browser will not evict the offline copy or cached models)"
        : "storage: best-effort (the browser may clear the offline copy and cached models when space runs low)");
    } catch (error) {
      boot.log(`storage persistence unavailable: ${error.message}`);
    }
  }

  /** Ask the server for a new version now (also done whenever the tab becomes visible again). */
  boot.checkForUpdate = async () => {
    if (!registration) return false;
    await registration.update();
    return true;
  };
  /** {serviceWorker, controlled, build, files, bytes, persisted}: a copy, safe to hand to Python or JSON. */
  boot.offlineState = () => ({ ...offline, controlled: Boolean(navigator.serviceWorker?.controller) });

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

  const afterStart = () => { startOffline(); requestPersistence(); };
  ready.then(() => { afterStart(); saveInterpreterSnapshot(); }, afterStart);
  // PyScript reports interpreter start-up failures as errors; surface them instead of loading forever.
  window.addEventListener("error", (event) => {
    if (!done && event.message) boot.fail(`Teachbox could not start: ${event.message}`);
  });
})();
