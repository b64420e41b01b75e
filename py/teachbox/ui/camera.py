"""The webcam: one stream shared by hold-to-record (per class) and the live preview.

One camera panel rather than one per class because a browser tab gets one camera picture at a time and people
record classes one after the other. Frames are taken from the <video> into a canvas, mirrored when the picture is
shown mirrored (so what is recorded and what is previewed is what the person sees), and at most 480 px on the long
side (the model sees 224 px; bigger frames only cost memory).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any

from teachbox.browser.convert import JsException, js_message, to_js
from teachbox.errors import TeachboxError
from teachbox.ui import dom
from teachbox.ui.feedback import Feedback

MAX_SIDE = 480
FRAME_INTERVAL_S = 0.2  # ~5 frames per second while a record button is held
_frame_numbers = itertools.count(1)


class Camera:
    """Start/stop, camera choice and mirroring; frames as canvases or JPEG files."""

    def __init__(self, feedback: Feedback) -> None:
        self.feedback = feedback
        self.video = dom.by_id("camera-video")
        self.toggle = dom.by_id("camera-toggle")
        self.select = dom.by_id("camera-select")
        self.mirror = dom.by_id("camera-mirror")
        self.placeholder = dom.by_id("camera-placeholder")
        self.stream: Any = None
        self._starting = False
        self.watchers: list[Callable[[bool], None]] = []
        self._capture_canvas = dom.document.createElement("canvas")
        self.listeners = feedback.listeners_for_actions()
        self.listeners.on(self.toggle, "click", lambda _e: self.stop() if self.running else self.start())
        self.listeners.on(self.select, "change", lambda _e: self.start(str(self.select.value) or None))
        self.listeners.on(self.mirror, "change", lambda _e: self.video.classList.toggle("mirrored",
                                                                                       bool(self.mirror.checked)))

    @property
    def running(self) -> bool:
        return self.stream is not None

    @property
    def mirrored(self) -> bool:
        return bool(self.mirror.checked)

    async def start(self, device_id: str | None = None) -> None:
        """Ask for the camera (the browser asks the person the first time) and show its picture."""
        devices = dom.media_devices()
        if devices is None:
            raise TeachboxError("no_camera", "This page cannot use a camera here: browsers allow cameras only on "
                                             "https:// or localhost pages.")
        video: dict[str, Any] = {"width": {"ideal": 640}, "height": {"ideal": 480}}
        video |= {"deviceId": {"exact": device_id}} if device_id else {"facingMode": "user"}
        if self._starting:
            return  # a second press while the browser is still asking; disabling the button would drop its focus
        self._starting = True
        try:
            stream = await devices.getUserMedia(to_js({"video": video, "audio": False}))
        except JsException as error:
            raise TeachboxError("no_camera", _camera_message(error)) from None
        finally:
            self._starting = False
        self._release()
        self.stream = stream
        self.video.srcObject = stream
        await self.video.play()
        self.toggle.textContent = "Stop camera"
        self.placeholder.hidden = True
        await self._list_cameras(stream)
        self.feedback.say("Camera on.")
        self._notify()

    def stop(self) -> None:
        self._release()
        self.toggle.textContent = "Start camera"
        self.placeholder.hidden = False
        self.feedback.say("Camera off.")
        self._notify()

    def _release(self) -> None:
        if self.stream is not None:
            for track in self.stream.getTracks():
                track.stop()
        self.stream = None
        dom.detach_stream(self.video)

    async def _list_cameras(self, stream: Any) -> None:
        """Fill the camera picker (device labels are only readable once the person allowed the camera)."""
        current = str(stream.getVideoTracks()[0].getSettings().deviceId or "")
        devices = [d for d in await dom.media_devices().enumerateDevices() if str(d.kind) == "videoinput"]
        dom.clear(self.select)
        for number, device in enumerate(devices, 1):
            option = dom.el("option", text=str(device.label or f"Camera {number}"), value=str(device.deviceId))
            option.selected = str(device.deviceId) == current
            self.select.append(option)
        self.select.disabled = len(devices) < 2

    def _notify(self) -> None:
        for watcher in list(self.watchers):
            dom.call_handler(watcher, self.running)

    def frame(self, canvas: Any) -> Any:
        """Draw the current picture into `canvas` (as shown: mirrored or not) and return it."""
        if not self.running or int(self.video.videoWidth) == 0:
            raise TeachboxError("no_camera", "The camera is not on: press Start camera first.")
        width, height = int(self.video.videoWidth), int(self.video.videoHeight)
        scale = min(1.0, MAX_SIDE / max(width, height))
        out_w, out_h = max(1, round(width * scale)), max(1, round(height * scale))
        if int(canvas.width) != out_w or int(canvas.height) != out_h:
            canvas.width, canvas.height = out_w, out_h
        context = dom.context_2d(canvas, read_back=True)  # the preview's frames are read back by predict
        context.save()
        if self.mirrored:
            context.translate(out_w, 0)
            context.scale(-1, 1)
        context.drawImage(self.video, 0, 0, out_w, out_h)
        context.restore()
        return canvas

    async def jpeg(self) -> Any:
        """The current picture as a JPEG File with a unique name (names identify images in results)."""
        blob = await dom.canvas_to_blob(self.frame(self._capture_canvas), "image/jpeg", 0.9)
        name = f"camera-{next(_frame_numbers):04d}.jpg"
        return dom.image_file(blob, name, "image/jpeg")


class HoldToRecord:
    """A button that records frames while held: mouse and touch (pointer events, captured so a finger sliding off
    still ends it) and keyboard (Space/Enter down starts, auto-repeat is ignored, key up or leaving the button
    stops). Frames are added to the class in one batch when the button is released."""

    IDLE_TEXT = "Hold to record"

    def __init__(self, camera: Camera, label: Callable[[], str],
                 add: Callable[[str, list[Any]], Awaitable[Any]], feedback: Feedback,
                 listeners: dom.Listeners) -> None:
        self.camera = camera
        self.label = label
        self.add = add
        self.feedback = feedback
        self.recording = False
        self.button = dom.el("button", text=self.IDLE_TEXT, cls="record", type="button", aria_pressed="false",
                             disabled=not camera.running)
        self.update_name()
        listeners.on(self.button, "pointerdown", self._pointer_down)
        listeners.on_many(self.button, ("pointerup", "pointercancel", "lostpointercapture", "blur"),
                          lambda _e: self.stop())
        listeners.on(self.button, "keydown", self._key_down)
        listeners.on(self.button, "keyup", self._key_up)
        listeners.on(self.button, "contextmenu", lambda e: e.preventDefault())  # long-press menu on touch screens

    def update_name(self) -> None:
        self.button.setAttribute("aria-label", f"Hold to record camera pictures for {self.label()}")

    def set_camera(self, running: bool) -> None:
        self.button.disabled = not running
        if not running:
            self.stop()

    def _pointer_down(self, event: Any) -> Any:
        if int(event.button) != 0:
            return None
        self.button.setPointerCapture(event.pointerId)
        return self.start()

    @staticmethod
    def _is_trigger(event: Any) -> bool:
        return str(event.key) in (" ", "Enter", "Spacebar")

    def _key_down(self, event: Any) -> Any:
        if not self._is_trigger(event):
            return None
        event.preventDefault()  # no page scroll on Space, no synthetic click on Enter
        if event.repeat:
            return None
        return self.start()

    def _key_up(self, event: Any) -> None:
        if self._is_trigger(event):
            event.preventDefault()
            self.stop()

    def start(self) -> Any:
        if self.recording:
            return None
        if not self.camera.running:
            self.feedback.error("Start the camera first (Camera panel), then hold the button.")
            return None
        self.recording = True
        self.button.setAttribute("aria-pressed", "true")
        self.button.classList.add("recording")
        return self._record()

    def stop(self) -> None:
        self.recording = False

    async def _record(self) -> None:
        frames: list[Any] = []
        label = self.label()
        try:
            while True:  # at least one frame, even for a quick tap
                started = time.monotonic()
                frames.append(await self.camera.jpeg())
                self.button.textContent = f"Recording… {len(frames)}"
                if not self.recording:
                    break
                await asyncio.sleep(max(0.0, FRAME_INTERVAL_S - (time.monotonic() - started)))
                if not self.recording or not self.camera.running:
                    break
        finally:
            self.recording = False
            self.button.textContent = self.IDLE_TEXT
            self.button.setAttribute("aria-pressed", "false")
            self.button.classList.remove("recording")
        await self.add(label, frames)


def _camera_message(error: BaseException) -> str:
    """getUserMedia failures in words a person can act on."""
    text = js_message(error)
    if "NotAllowed" in text or "Permission" in text:
        return "The camera was not allowed. Allow it in the browser's site settings and press Start camera again."
    if "NotFound" in text or "Requested device not found" in text:
        return "No camera was found. Connect one and press Start camera again."
    if "NotReadable" in text or "Could not start" in text:
        return "The camera is in use by another program or tab. Close it there and try again."
    return f"The camera could not be started: {text}"
