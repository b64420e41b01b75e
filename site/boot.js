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
  document.addEventListener("DOMContentLoaded", () => boot.log("page loaded; starting Python"));
  // PyScript reports interpreter start-up failures as errors; surface them instead of loading forever.
  window.addEventListener("error", (event) => {
    if (!done && event.message) boot.fail(`Teachbox could not start: ${event.message}`);
  });
})();
