"""Requests to the page's own origin: fetch with failures as coded TeachboxErrors that name the URL."""

from __future__ import annotations

from typing import Any

import js  # type: ignore[import-not-found]

from teachbox.browser import kernels
from teachbox.browser.convert import JsException, buffer_bytes, js_message
from teachbox.errors import TeachboxError


def failed_fetch_error(url: str, kind: str, message: str) -> TeachboxError:
    """The error of a fetch that got no response, by kernels.failed_fetch's `kind`: a redirect the page could not
    follow is named as such ("Failed to fetch" would send a person looking for a network problem)."""
    if kind == "redirected":
        return TeachboxError("redirected", f"Could not load {url}: the server redirects it to another address, which "
                                           "the page could not follow (Teachbox loads files from its own site only). "
                                           "Use a copy on this site.")
    return TeachboxError("network", f"Could not load {url}: {message}.")


def http_error(url: str, status: int, status_text: str) -> TeachboxError:
    code = "missing" if status == 404 else "http_error"
    return TeachboxError(code, f"Could not load {url}: the server answered {status} {status_text}.",
                         {"status": status})


async def fetch(url: str) -> Any:
    """fetch() that turns network failures and HTTP errors into TeachboxError with the URL in the message."""
    try:
        response = await js.fetch(url)
    except JsException as error:
        raise failed_fetch_error(url, await kernels.failed_fetch(url), js_message(error)) from error
    if not response.ok:
        raise http_error(url, int(response.status), str(response.statusText))
    return response


async def fetch_bytes(url: str) -> bytes:
    """The body as bytes: text is decoded by its reader's own rules (a labels CSV must be strict UTF-8), never with
    the replacement characters Response.text() puts in silently."""
    return buffer_bytes(await (await fetch(url)).arrayBuffer())


async def fetch_blob(url: str) -> Any:
    return await (await fetch(url)).blob()


async def fetch_json(url: str) -> Any:
    response = await fetch(url)
    try:
        return (await response.json()).to_py()
    except JsException as error:
        raise TeachboxError("bad_json", f"{url} is not valid JSON: {js_message(error)}.") from error
