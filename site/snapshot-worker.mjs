// Makes the memory snapshot interpreter.mjs restores: a Pyodide started here, in a worker, in snapshot-making mode
// (which wraps the JS globals in tracking proxies, so it must not be the page's own interpreter), captured right
// after its start and kept in Cache Storage under the key the page gave. Older snapshots are deleted. Posts
// {ok: true, bytes} or {ok: false, error}. Nothing leaves the browser.
import { loadPyodide } from "./vendor/pyodide/pyodide.mjs";

self.onmessage = async ({ data: { cache: name, key, indexURL } }) => {
  try {
    const pyodide = await loadPyodide({ indexURL, _makeSnapshot: true });
    const snapshot = pyodide.makeMemorySnapshot();
    const cache = await caches.open(name);
    for (const request of await cache.keys()) await cache.delete(request);
    // Stored uncompressed: un-gzipping it would cost the page's main thread more than reading it.
    await cache.put(key, new Response(snapshot, { headers: { "Content-Type": "application/octet-stream" } }));
    self.postMessage({ ok: true, bytes: snapshot.byteLength });
  } catch (error) {
    self.postMessage({ ok: false, error: String((error && error.message) || error) });
  }
};
