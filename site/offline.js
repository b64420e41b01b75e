// The offline copy (sw.js) and storage persistence: registers the service worker once start-up has settled,
// reports its progress in the boot log, offers updates, and keeps the state for teachbox.info().offline.
(() => {
  "use strict";
  const boot = window.teachboxBoot;  // boot.js ran first (index.html)
  const $ = (id) => document.getElementById(id);
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
          offline.serviceWorker = "active";  // the version in use is unchanged
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


  const afterStart = () => { startOffline(); requestPersistence(); };
  window.teachbox.ready.then(afterStart, afterStart);
})();
