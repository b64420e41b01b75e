"""IndexedDB requests as awaitables, and the storage estimate: the browser half of store/project_db.py."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import js  # type: ignore[import-not-found]
from pyodide.ffi import create_proxy  # type: ignore[import-not-found]

from teachbox.browser.convert import is_nullish, to_js


class StorageFailed(Exception):
    """An IndexedDB request or transaction failed; `name` is the DOMException's (e.g. QuotaExceededError)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


async def settled(target: Any, success: str) -> Any:
    """Await an IDBRequest (`success`) or IDBTransaction (`complete`); failures raise StorageFailed.

    One proxy listens for the outcome and is destroyed on the next loop turn (not inside its own call), so nothing
    leaks however the request ends. A transaction reports a failed commit (quota!) as `abort` with `tx.error`.
    """
    loop = asyncio.get_event_loop()
    outcome: asyncio.Future = loop.create_future()
    events = (success, "error", "abort", "blocked")

    def handler(event: Any) -> None:
        if outcome.done():
            return
        if event.type == success:
            outcome.set_result(target)
            return
        if event.type == "blocked" or (event.type == "error" and success == "complete"):
            return  # blocked: an upgrade waits for other tabs; a request's error in a transaction: its abort follows
        error = target.error
        name = str(error.name) if not is_nullish(error) else "AbortError"
        outcome.set_exception(StorageFailed(name, str(error.message) if not is_nullish(error) else "aborted"))

    proxy = create_proxy(handler)
    for event in events:
        target.addEventListener(event, proxy)
    try:
        return await outcome
    finally:
        for event in events:
            target.removeEventListener(event, proxy)
        loop.call_soon(proxy.destroy)


async def open_database(name: str, version: int, stores: tuple[str, ...]) -> Any:
    """indexedDB.open(name, version), creating the object stores (out-of-line keys) a new version lacks. Raises
    StorageFailed."""
    request = js.indexedDB.open(name, version)

    def upgrade(_event: Any) -> None:
        db = request.result
        for store in stores:
            if not db.objectStoreNames.contains(store):
                db.createObjectStore(store)

    proxy = create_proxy(upgrade)
    request.addEventListener("upgradeneeded", proxy)
    try:
        await settled(request, "success")
    finally:
        request.removeEventListener("upgradeneeded", proxy)
        proxy.destroy()
    return request.result


# (store, "put" | "delete", key, value); a key is a Python value, ("range", lower, upper) or None for all keys.
Op = tuple[str, str, Any, Any]


async def write(db: Any, ops: list[Op]) -> None:
    """Apply all ops in one readwrite transaction (issued synchronously: nothing awaits inside it); a failed commit
    raises StorageFailed and nothing of it is stored."""
    tx = db.transaction(to_js(sorted({op[0] for op in ops})), "readwrite")
    _issue(tx, ops)
    await settled(tx, "complete")


def _issue(tx: Any, ops: list[Op]) -> None:
    for store, kind, key, value in ops:
        target = tx.objectStore(store)
        if kind == "put":
            target.put(value, _key(key))
        else:
            target.delete(_key(key))


async def update(db: Any, ops: list[Op], store: str, key: Any, change: Callable[[Any], Any]) -> None:
    """Apply `ops`, then replace the value under `key` with `change(value)` (None when absent), all in one readwrite
    transaction. `change` runs in the success handler of the read, while the transaction is still active, so the
    read and the write are one step: IndexedDB runs readwrite transactions on the same store one after the other,
    and no other tab's write can come between them (awaiting the read in Python first would let the transaction
    commit before the write). An exception from `change` aborts the transaction and is raised here; a failed commit
    raises StorageFailed. Nothing of an aborted transaction is stored."""
    tx = db.transaction(to_js(sorted({store} | {op[0] for op in ops})), "readwrite")
    _issue(tx, ops)
    request = tx.objectStore(store).get(_key(key))
    refused: list[Exception] = []

    def write(_event: Any) -> None:
        try:
            tx.objectStore(store).put(change(None if is_nullish(request.result) else request.result), _key(key))
        except Exception as error:  # noqa: BLE001 - any failure of `change` must abort, then surface in the caller
            refused.append(error)
            tx.abort()

    proxy = create_proxy(write)
    request.addEventListener("success", proxy)
    try:
        await settled(tx, "complete")
    except StorageFailed:
        if refused:
            raise refused[0] from None
        raise
    finally:
        request.removeEventListener("success", proxy)
        proxy.destroy()


async def read(db: Any, requests: list[tuple[str, str, Any]]) -> list[Any]:
    """Run (store, method, key) requests (get, getAll, getAllKeys) in one readonly transaction; their results in
    order, JS null and undefined as None."""
    tx = db.transaction(to_js(sorted({r[0] for r in requests})), "readonly")
    issued = [getattr(tx.objectStore(store), method)(_key(key)) for store, method, key in requests]
    await settled(tx, "complete")
    return [None if is_nullish(request.result) else request.result for request in issued]


def _key(key: Any) -> Any:
    """A Python key as an IndexedDB key or key range (`("range", lower, upper)`); None means all keys."""
    if key is None:
        return None
    if isinstance(key, tuple) and key[0] == "range":
        return js.IDBKeyRange.bound(to_js(key[1]), to_js(key[2]))
    return to_js(key)


async def storage_estimate() -> tuple[int, int]:
    """(usage, quota) in bytes for this origin, from navigator.storage.estimate()."""
    estimate = await js.navigator.storage.estimate()
    return int(estimate.usage or 0), int(estimate.quota or 0)


async def storage_persisted() -> bool:
    return bool(await js.navigator.storage.persisted())
