""""Try a sample" end to end, on a build made for it (`--dataset ../shared/datasets/malaria:Malaria
--dataset-limit 30`), in one context that allows the service worker:

1. online: the menu lists the build's sample as text; choosing it with the keyboard loads it through
   loadDataset (the notice and the class cards show both classes with 30 images each), and it trains; the sample's
   files were cached when first fetched, not at install (the precache holds none of them);
2. offline, server stopped: a new tab boots from the cache and the same sample loads again, from the cache.

The online visit (1.'s page, with the sample chosen and cached) is the module-scoped fixture `online`, which the
offline test asks for too, so each test runs alone (`pytest -k name`); the offline one stops the server, so it
comes last.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.sync_api import Page

from tests.conftest import SHARED
from tests.e2e.conftest import DEFAULT_BASE, BuildOptions, StaticServer, build, guarded_context, open_app
from tests.e2e.test_offline import poll

MALARIA = SHARED / "datasets" / "malaria"
PER_CLASS = 30
LOADED = f"Loaded {2 * PER_CLASS} images from the sample “Malaria”"

CACHE_STATE = """async () => {
  const keys = (await caches.keys()).filter((k) => k.startsWith('teachbox-'));
  const cached = keys.length ? (await (await caches.open(keys[0])).keys()).map((r) => new URL(r.url).pathname) : [];
  return {controlled: Boolean(navigator.serviceWorker.controller), keys,
          samples: cached.filter((p) => p.startsWith('/samples/malaria/')).length,
          precached: teachboxBoot.offlineState().files};
}"""


@pytest.fixture(scope="module")
def site(browser, shared_dir: Path, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN001, ANN201
    """A build with the malaria sample on its own server, and one service-worker context for the module."""
    if not (MALARIA / "labels.csv").is_file():
        pytest.skip("../shared/datasets/malaria is not available")
    dist = tmp_path_factory.mktemp("samples") / "dist"
    build(BuildOptions(Path(__file__).resolve().parents[2], dist, [str(DEFAULT_BASE)],
                       datasets=[f"{MALARIA}:Malaria"], dataset_limit=PER_CLASS))
    state = SimpleNamespace(dist=dist)
    state.server = StaticServer(dist, 0)
    state.server.start_in_thread()
    with guarded_context(browser, service_workers="allow") as (ctx, _guard):
        state.context = ctx
        yield state
        if state.server is not None:
            state.server.shutdown()
            state.server.server_close()


def choose_sample(page) -> None:  # noqa: ANN001
    """Pick the sample with the keyboard (focus the menu, Tab to the button, Enter) and wait for the report. When
    the page holds images already (a restored project), it first asks before replacing them: confirm."""
    page.locator("#sample-select").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "sample-load"
    page.keyboard.press("Enter")
    asked = page.wait_for_function("""() => document.querySelector('#confirm-dialog').open ? 'asked'
      : document.querySelector('#import-messages').textContent.includes('the sample') ? 'loading' : null""")
    if asked.json_value() == "asked":
        assert "Replace your classes" in page.locator("#confirm-title").text_content()
        page.locator("#confirm-ok").click()
    try:
        page.wait_for_function("(text) => document.querySelector('#import-messages .panel-notice').textContent"
                               ".startsWith(text)", arg=LOADED, timeout=120_000)
    except Exception as error:
        raise AssertionError(f"the sample did not load: {page.locator('#import-messages').text_content()!r}, "
                             f"alert {page.locator('#alert').text_content()!r}") from error
    assert page.locator("#import-messages .panel-alert").is_hidden(), page.locator("#import-messages").text_content()


CARDS = """() => Object.fromEntries([...document.querySelectorAll('.class-card')].map(
  (card) => [card.querySelector('h3').textContent, card.querySelector('.count').textContent]))"""
EXPECTED_CARDS = {"Parasitized": f"{PER_CLASS} images", "Uninfected": f"{PER_CLASS} images"}


def wait_for_cards(page) -> None:  # noqa: ANN001
    """The class cards (they re-render after the `dataset` event) show the sample's classes and counts."""
    poll(page, CARDS, lambda cards: cards == EXPECTED_CARDS, timeout=30)


@dataclass(frozen=True)
class OnlineVisit:
    """The first tab, online, once the sample was chosen in it and its files were cached."""

    page: Page
    sample: dict  # the build's entry for it in samples/index.json
    menu: list[str]  # the sample menu's options
    before: dict  # CACHE_STATE when the service worker had taken control, before the sample was chosen


@pytest.fixture(scope="module")
def online(site) -> OnlineVisit:  # noqa: ANN001
    """Open the site online, wait for the service worker to take control (so the sample loads through it), choose
    the sample with the keyboard and wait until its files and labels.csv are in the cache: what an offline visit
    needs from this one."""
    [sample] = json.loads((site.dist / "samples" / "index.json").read_text(encoding="utf-8"))["samples"]
    page, _info = open_app(site.context, site.server.url)
    page.set_default_timeout(30_000)
    group = page.get_by_role("group", name="No images at hand? Try a sample data set of this site")
    group.wait_for(state="visible")
    menu = page.get_by_label("Sample data set").locator("option").all_text_contents()
    # The page learns the precache's size from the service worker in a message after it takes control: wait for it
    # too (a CI run under load read 0 in between).
    before = poll(page, CACHE_STATE, lambda v: v["controlled"] and len(v["keys"]) == 1 and v["precached"] > 0,
                  timeout=90)
    choose_sample(page)
    poll(page, CACHE_STATE, lambda v: v["samples"] == sample["images"] + 1)  # + labels.csv
    return OnlineVisit(page, sample, menu, before)


def test_try_a_sample_loads_it_and_trains(site, online: OnlineVisit) -> None:  # noqa: ANN001
    page, sample = online.page, online.sample
    assert sample["counts"] == {"Parasitized": PER_CLASS, "Uninfected": PER_CLASS}
    assert online.menu == [f"Malaria — 2 classes, {2 * PER_CLASS} images, {sample['bytes'] / 1000:.0f} kB"]
    assert online.before["samples"] == 0  # nothing of the sample is precached: `online` saw it cached on first use
    manifest = json.loads((site.dist / "build-manifest.json").read_text(encoding="utf-8"))
    # The precache: the build's files + its manifest − the sample's images, CSV and about.
    assert online.before["precached"] == len(manifest["files"]) + 1 - (sample["images"] + 2)
    assert page.evaluate("() => teachbox.project().counts") == sample["counts"]
    wait_for_cards(page)

    page.locator("#opt-epochs").fill("8")
    page.locator("#train-start").click()
    page.wait_for_function("() => document.querySelector('#train-summary').textContent.length > 0", timeout=120_000)
    page.wait_for_selector("#confusion-table", timeout=60_000)
    assert page.locator("#train-messages .panel-alert").is_hidden(), page.locator("#train-messages").text_content()
    summary = page.locator("#train-summary").text_content()
    print(f"\nsample: {sample['images']} images, {sample['bytes']:,} bytes; {summary}")
    assert page.evaluate("() => teachbox.project().trained")


@pytest.mark.usefixtures("online")
def test_a_sample_opened_once_loads_offline(site) -> None:  # noqa: ANN001
    site.server.shutdown()
    site.server.server_close()
    url, site.server = site.server.url, None
    site.context.set_offline(True)
    page, _info = open_app(site.context, url)
    page.set_default_timeout(30_000)
    page.locator("#samples").wait_for(state="visible")
    choose_sample(page)
    wait_for_cards(page)
    assert page.evaluate("() => teachbox.project().counts") == {"Parasitized": PER_CLASS, "Uninfected": PER_CLASS}
