"""Each image's features computed once, in pipelined batches, and cached for every later epoch and run.

An encoder maps an input batch to per-image features (the base's pooled embedding, or for fine-tuning the frozen
part's activations). Features live as JS Float32Arrays (outside TF.js's tensor registry, so `numTensors` stays
flat) keyed by (encoder key, sample uid): retraining with other options re-embeds nothing. While the model runs
on batch k, the browser already fetches and decodes batch k+1.
"""

from __future__ import annotations

import asyncio
import collections
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from teachbox.browser import net, tfjs
from teachbox.data.geometry import Preprocessing
from teachbox.data.image_reading import ChunkInputs, prepare_chunk
from teachbox.data.labels_csv import FIRST_ROWS
from teachbox.data.project import Sample
from teachbox.errors import TeachboxError
from teachbox.model.train_plan import view_key

BATCH = 32  # faster per image than 16 on wasm (docs/decisions.md)
# Batches prepared ahead of the model: more gave no speed, and each extra batch in flight holds more wasm heap (which
# never shrinks).
AHEAD = 1
FETCH_AT_ONCE = 32  # URLs fetched together when saving (sample_blobs)


@dataclass
class Encoder:
    """A model from input images to features, with the cache key that names exactly what it computes."""

    key: str
    model: Any  # [N, size, size, 3] -> [N, ...shape]
    shape: tuple[int, ...]
    pooled: bool
    preprocessing: Preprocessing
    views: tuple[str, ...] = ("id",)  # each view of an image is encoded once and cached under its own key
    depths: int = 1  # pooled features: 2 adds the base's earlier depth (the fused runner's `embed`)

    async def encode(self, batch: Any, view: str = "id") -> Any:
        """The features of a batch seen through `view`. A fused runner (kernels.js) gives the page a turn between
        its ops, so the page answers input while a large data set is embedded; a layers model runs in one go."""
        if not hasattr(self.model, "sliced"):
            return tfjs.tidy(lambda: self._encode_at_once(tfjs.view(batch, view, self.preprocessing.scaling)))
        viewed = tfjs.tidy(lambda: tfjs.view(batch, view, self.preprocessing.scaling))
        try:
            return await self.model.sliced(viewed, self.pooled, self.pooled and self.depths == 2)
        finally:
            if viewed.id != batch.id:  # "id" is the batch itself (a new proxy of the same tensor)
                viewed.dispose()

    def _encode_at_once(self, viewed: Any) -> Any:
        if self.pooled and self.depths == 2:
            return self.model.embed(viewed)
        output = self.model.predict(viewed)
        return tfjs.mean_pool(output) if self.pooled else output

    @property
    def keys(self) -> list[str]:
        """The cache key of each view, in `views` order."""
        return [view_key(self.key, view) for view in self.views]

    @property
    def size(self) -> int:
        return math.prod(self.shape)


class Cancelled(TeachboxError):
    def __init__(self) -> None:
        super().__init__("cancelled", "Stopped on request; nothing already computed was lost.")


class FeatureStore:
    """The cache; `ensure` fills it, `matrix` turns cached rows into one tensor."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], Any] = {}
        self.computed = 0  # images embedded by this page: a restored project must not add to it when it trains

    def has(self, key: str, uid: str) -> bool:
        return (key, uid) in self._cache

    def keys(self) -> list[tuple[str, str]]:
        return list(self._cache)

    def get(self, key: str, uid: str) -> Any:
        return self._cache[(key, uid)]

    def put(self, key: str, uid: str, row: Any) -> None:
        """Adopt a stored row (a Float32Array read back from IndexedDB)."""
        self._cache[(key, uid)] = row

    def row_bytes(self, key: str) -> int:
        """Bytes of one row under `key` (0 if none is cached)."""
        row = next((value for (cache_key, _), value in self._cache.items() if cache_key == key), None)
        return 0 if row is None else int(row.byteLength)

    def count(self, key: str) -> int:
        return sum(1 for cache_key, _ in self._cache if cache_key == key)

    def forget(self, uids: set[str]) -> None:
        for entry in [entry for entry in self._cache if entry[1] in uids]:
            del self._cache[entry]

    def take(self, uids: set[str]) -> list[tuple[str, str, Any]]:
        """Forget these samples' rows and return them as (key, uid, row), so an undo can `put` them back."""
        taken = [(key, uid, row) for (key, uid), row in self._cache.items() if uid in uids]
        for key, uid, _row in taken:
            del self._cache[(key, uid)]
        return taken

    def forget_key(self, key: str) -> None:
        for entry in [entry for entry in self._cache if entry[0] == key]:
            del self._cache[entry]

    async def ensure(self, samples: list[Sample], encoder: Encoder, progress: Callable[[int, int], None],
                     cancelled: Callable[[], bool],
                     first_rows: Callable[[list[Sample], dict[str, TeachboxError]], None] | None = None,
                     ) -> dict[str, TeachboxError]:
        """Compute missing features; returns the failures by sample uid (those samples get no features).

        `first_rows`, when given, is shown the first FIRST_ROWS samples read and the failures so far as soon as
        those samples are read (before they are embedded), once; it may raise to stop, like a cancel."""
        todo = [s for s in samples if not all(self.has(key, s.uid) for key in encoder.keys)]
        failures: dict[str, TeachboxError] = {}
        chunks = [todo[i:i + BATCH] for i in range(0, len(todo), BATCH)]
        if not chunks:
            return failures
        # Decoding runs AHEAD batches in front of the model: while predict() holds the main thread, the fetch and
        # decode continuations of the next batch cannot run, so one batch of lead left the model waiting.
        pending = collections.deque(asyncio.ensure_future(prepare_chunk(chunk, encoder.preprocessing))
                                    for chunk in chunks[:AHEAD])
        done = 0
        for index, chunk in enumerate(chunks):
            prepared = await pending.popleft()
            failures.update(prepared.failures)
            read = done + len(chunk)
            try:  # before the next batch is requested: a stop then costs no more requests
                if cancelled():
                    raise Cancelled()
                if first_rows is not None and done < FIRST_ROWS <= read:
                    first_rows(todo[:FIRST_ROWS], failures)
            except TeachboxError:
                prepared.dispose()
                for future in pending:
                    (await future).dispose()
                raise
            if index + AHEAD < len(chunks):
                pending.append(asyncio.ensure_future(prepare_chunk(chunks[index + AHEAD], encoder.preprocessing)))
                # Let that task issue its reads before predict() takes the main thread: Pyodide's loop has no eager
                # task start, so without this yield the next batch was only requested after this one's predict,
                # and reading and decoding never overlapped the model.
                await asyncio.sleep(0)
            await self._encode_chunk(prepared, encoder)
            done = read
            progress(done, len(todo))
        return failures

    async def _encode_chunk(self, prepared: ChunkInputs, encoder: Encoder) -> None:
        if prepared.batch is None:
            return
        outputs = []
        try:
            for key, view in zip(encoder.keys, encoder.views):
                # A view every image of the batch has already (the image itself, when training adds views to
                # images embedded at load) is not computed again.
                if not all(self.has(key, sample.uid) for sample in prepared.kept):
                    outputs.append((key, await encoder.encode(prepared.batch, view)))
        except BaseException:
            for _, features in outputs:
                features.dispose()
            raise
        finally:
            prepared.dispose()
        for key, features in outputs:
            try:
                rows = await tfjs.float_rows(features)
            finally:
                features.dispose()
            for row, sample in zip(rows, prepared.kept):
                self._cache[(key, sample.uid)] = row
        self.computed += len(prepared.kept)

    def matrix(self, samples: list[Sample], key: str, shape: tuple[int, ...]) -> Any:
        """[N, ...shape] float32 tensor of the features cached under `key`, in sample order (caller disposes)."""
        return tfjs.from_rows([self._cache[(key, sample.uid)] for sample in samples], shape)


    async def averaged(self, samples: list[Sample], keys: list[str], shape: tuple[int, ...],
                       head: Any = None) -> list[list[float]]:
        """Class probabilities of samples from cached rows of `shape`, averaged over the views' keys (test-time
        augmentation): the rows are the head's input features when `head` is given, else probabilities already."""
        total = None
        for key in keys:
            rows = self.matrix(samples, key, shape)
            if head is not None:
                features, rows = rows, head.predict(rows)
                features.dispose()
            if total is not None:
                summed = tfjs.add(total, rows)
                total.dispose()
                rows.dispose()
                rows = summed
            total = rows
        mean = tfjs.scale(total, 1 / len(keys))
        total.dispose()
        try:
            return await tfjs.nested(mean)
        finally:
            mean.dispose()


async def sample_blob(sample: Sample) -> Any:
    """A sample's bytes as a Blob, to save it. A URL's Blob normally replaced it when it was embedded (image_reading.py);
    after an embedding-cache hit the URL is fetched again here, once."""
    if isinstance(sample.source, str):
        sample.source = await net.fetch_blob(sample.source)
    return sample.source


async def sample_blobs(samples: list[Sample]) -> list[Any]:
    """Each sample's Blob (sample_blob), the URLs among them fetched FETCH_AT_ONCE at a time: after a cancelled
    load, the next load's cache hits still have URLs, and fetched one by one 9,000 of them took 25 s to save."""
    for start in range(0, len(samples), FETCH_AT_ONCE):
        await asyncio.gather(*(sample_blob(sample) for sample in samples[start:start + FETCH_AT_ONCE]))
    return [sample.source for sample in samples]
