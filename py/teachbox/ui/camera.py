"""The webcam: one stream shared by the class cards' capture and the live preview, and the capture itself.

One stream because a browser tab gets one picture per camera and asking twice would ask the person twice. Each
place that shows the picture (the capture box in a class card, the preview) is a *user* with its own <video>; the
stream starts with the first user and its tracks are stopped with the last, so the camera light goes off as soon
as nothing shows the picture. Frames are taken from a user's <video> into a canvas, mirrored when the picture is
shown mirrored (what is recorded is what the person sees), and at most 480 px on the long side (the model sees
224 px; bigger frames only cost memory).

The capture opens inside one class card at a time, as Teachable Machine's does: a person records the classes one
after the other, and one box moved between the cards means one set of controls and one code path for them.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from teachbox.browser.convert import JsException, js_message, to_js
from teachbox.errors import TeachboxError
from teachbox.ui import dom
from teachbox.ui.feedback import Feedback
from teachbox.ui.intake import plural, quoted

MAX_SIDE = 480
_frame_numbers = itertools.count(1)


class Camera:
    """The one stream, its users (name -> the <video> showing it), camera choice and mirroring."""

    def __init__(self, select: dom.Node, mirror: dom.Node, feedback: Feedback) -> None:
        self.select = select
        self.mirror = mirror
        self.users: dict[str, Any] = {}
        self.stream: Any = None
        self.device_id: str | None = None  # the camera picked by the person; None: the browser's choice
        self._lock = asyncio.Lock()  # one getUserMedia at a time (a preview and a card may ask together)
        self._capture_canvas = dom.document.createElement("canvas")
        self.listeners = feedback.listeners_for_actions()
        self.listeners.on(select, "change", lambda _e: self.choose(str(select.value) or None))
        self.listeners.on(mirror, "change", lambda _e: self._mirror_all())

    @property
    def running(self) -> bool:
        return self.stream is not None

    @property
    def mirrored(self) -> bool:
        return bool(self.mirror.checked)

    async def open(self, user: str, video: dom.Node) -> None:
        """Show the picture in `video` for `user`, starting the camera if no one uses it yet (the browser asks the
        person the first time). A failure leaves `user` out and says why in words a person can act on."""
        self.users[user] = video
        try:
            async with self._lock:
                if self.stream is None:
                    stream = await self._request(self.device_id)
                    if not self.users:  # everyone left while the browser was asking
                        _stop(stream)
                        return
                    self.stream = stream
                    await self._list_cameras()
        except BaseException:
            self.users.pop(user, None)
            raise
        if self.users.get(user) is video:
            await self._show(video)

    def close(self, user: str) -> None:
        """`user` no longer shows the picture; the last one out stops the camera's tracks."""
        video = self.users.pop(user, None)
        if video is not None:
            dom.detach_stream(video)
        if not self.users and self.stream is not None:
            _stop(self.stream)
            self.stream = None

    async def choose(self, device_id: str | None) -> None:
        """Switch to another camera; every user's <video> follows. The new stream is asked for before the old one
        stops, so a camera that cannot be opened leaves the picture as it was."""
        self.device_id = device_id
        async with self._lock:
            if self.stream is None:
                return
            stream = await self._request(device_id)
            _stop(self.stream)
            self.stream = stream
        for video in list(self.users.values()):
            await self._show(video)

    async def _request(self, device_id: str | None) -> Any:
        devices = dom.media_devices()
        if devices is None:
            raise TeachboxError("no_camera", "This page cannot use a camera here: browsers allow cameras only on "
                                             "https:// or localhost pages.")
        video: dict[str, Any] = {"width": {"ideal": 640}, "height": {"ideal": 480}}
        video |= {"deviceId": {"exact": device_id}} if device_id else {"facingMode": "user"}
        try:
            return await devices.getUserMedia(to_js({"video": video, "audio": False}))
        except JsException as error:
            raise TeachboxError("no_camera", _camera_message(error)) from None

    async def _show(self, video: dom.Node) -> None:
        video.srcObject = self.stream
        video.classList.toggle("mirrored", self.mirrored)
        await video.play()

    def _mirror_all(self) -> None:
        for video in self.users.values():
            video.classList.toggle("mirrored", self.mirrored)

    async def _list_cameras(self) -> None:
        """Fill the camera picker (device labels are only readable once the person allowed the camera)."""
        current = str(self.stream.getVideoTracks()[0].getSettings().deviceId or "")
        devices = [d for d in await dom.media_devices().enumerateDevices() if str(d.kind) == "videoinput"]
        dom.clear(self.select)
        for number, device in enumerate(devices, 1):
            option = dom.el("option", text=str(device.label or f"Camera {number}"), value=str(device.deviceId))
            option.selected = str(device.deviceId) == current
            self.select.append(option)
        self.select.disabled = len(devices) < 2

    def has_picture(self, user: str) -> bool:
        """Whether `user`'s <video> shows a picture yet: a camera that has just started can have none for a moment
        (more on a busy machine), and a recording waits for it instead of failing."""
        video = self.users.get(user)
        return video is not None and self.running and int(video.videoWidth) > 0

    def frame(self, user: str, canvas: Any) -> Any:
        """Draw `user`'s current picture into `canvas` (as shown: mirrored or not) and return it."""
        if not self.has_picture(user):
            raise TeachboxError("no_camera", "The camera is not on.")
        video = self.users[user]
        width, height = int(video.videoWidth), int(video.videoHeight)
        scale = min(1.0, MAX_SIDE / max(width, height))
        out_w, out_h = max(1, round(width * scale)), max(1, round(height * scale))
        if int(canvas.width) != out_w or int(canvas.height) != out_h:
            canvas.width, canvas.height = out_w, out_h
        context = dom.context_2d(canvas, read_back=True)  # the preview's frames are read back by predict
        context.save()
        if self.mirrored:
            context.translate(out_w, 0)
            context.scale(-1, 1)
        context.drawImage(video, 0, 0, out_w, out_h)
        context.restore()
        return canvas

    async def jpeg(self, user: str) -> Any:
        """`user`'s current picture as a JPEG File with a unique name (names identify images in results)."""
        blob = await dom.canvas_to_blob(self.frame(user, self._capture_canvas), "image/jpeg", 0.9)
        name = f"camera-{next(_frame_numbers):04d}.jpg"
        return dom.image_file(blob, name, "image/jpeg")


def _stop(stream: Any) -> None:
    """Stop every track: that, not dropping the stream, is what turns the camera (and its light) off."""
    for track in stream.getTracks():
        track.stop()


class CaptureTarget(Protocol):
    """What the capture needs of a class card: where to open, the class to add to, the button that opened it."""

    label: str
    capture_slot: dom.Node
    webcam_button: dom.Node


class Capture:
    """The webcam capture that opens inside a class card: the picture, the record button and its settings.

    Hold to record (the default): frames are taken while the button is held, by mouse or touch (pointer events,
    captured so a finger sliding off still ends it) or Space/Enter (auto-repeat ignored; key up or leaving the
    button stops). Without it, a press waits `delay` seconds, then records `duration` seconds, as Teachable
    Machine's timed recording; a second press stops early. Either way frames are taken `fps` times a second and
    join the class as they are taken (each addition waits for the one before it), so the card fills while the
    person records.
    """

    USER = "capture"

    def __init__(self, camera: Camera, add: Callable[[str, list[Any]], Awaitable[Any]], feedback: Feedback) -> None:
        self.camera = camera
        self.add = add
        self.feedback = feedback
        self.node = dom.by_id("capture")
        self.video = dom.by_id("capture-video")
        self.button = dom.by_id("capture-record")
        self.hold = dom.by_id("capture-hold")
        self.fps = dom.by_id("capture-fps")
        self.delay = dom.by_id("capture-delay")
        self.duration = dom.by_id("capture-duration")
        self.target: CaptureTarget | None = None
        self.recording = False
        self.taken = 0
        self._pending: list[Any] = []
        self._adding: asyncio.Future | None = None
        self.listeners = feedback.listeners_for_actions()
        on = self.listeners.on
        on(dom.by_id("capture-close"), "click", lambda _e: self.close())
        on(self.hold, "change", lambda _e: self._mode_changed())
        on(self.button, "pointerdown", self._pointer_down)
        self.listeners.on_many(self.button, ("pointerup", "pointercancel", "lostpointercapture", "blur"),
                               lambda _e: self._released())
        on(self.button, "keydown", self._key_down)
        on(self.button, "keyup", self._key_up)
        on(self.button, "contextmenu", lambda e: e.preventDefault())  # long-press menu on touch screens
        self._mode_changed()
        self.node.remove()  # parked until a card opens it

    # -- where it is open --------------------------------------------------------------------------------------
    def is_open_in(self, target: CaptureTarget) -> bool:
        return self.target is target

    async def toggle(self, target: CaptureTarget) -> None:
        """The card's Webcam button: open the capture there (closing it in another card), or close it."""
        if self.target is target:
            self.close()
            return
        self.close()
        self.target = target
        target.capture_slot.append(self.node)
        target.webcam_button.setAttribute("aria-expanded", "true")
        self.named(target)
        self.button.disabled = True
        self.node.hidden = False
        try:
            await self.camera.open(self.USER, self.video)
        except BaseException:
            if self.target is target:
                self.close()
            raise
        if self.target is target:
            self.button.disabled = False
            self.button.focus()  # the person opened it to record: the next key press records

    def close(self) -> None:
        """Put the capture away; the camera stops unless the preview still shows it."""
        self.recording = False
        target, self.target = self.target, None
        if target is not None:
            target.webcam_button.setAttribute("aria-expanded", "false")
        self.camera.close(self.USER)
        self.node.remove()

    def named(self, target: CaptureTarget) -> None:
        """The record button says which class it records into (a card was opened, or its class renamed)."""
        if self.target is target:
            verb = "Hold to record" if self.hold.checked else "Record"
            self.button.setAttribute("aria-label", f"{verb} camera pictures for {target.label}")

    # -- settings ------------------------------------------------------------------------------------------------
    def _mode_changed(self) -> None:
        holding = bool(self.hold.checked)
        self.delay.disabled = self.duration.disabled = holding  # they apply to timed recording only
        if not self.recording:
            self.button.textContent = self._idle_text()
        if self.target is not None:
            self.named(self.target)

    def _idle_text(self) -> str:
        return "Hold to record" if self.hold.checked else "Record"

    @staticmethod
    def _number(field: dom.Node, low: float, high: float) -> float:
        """A setting's value within its field's range; an empty or unreadable field reads as its default."""
        try:
            value = float(field.value)
        except ValueError:
            value = float(field.defaultValue)
        return min(high, max(low, value))

    # -- input ---------------------------------------------------------------------------------------------------
    def _pointer_down(self, event: Any) -> Any:
        if int(event.button) != 0:
            return None
        if self.hold.checked:
            self.button.setPointerCapture(event.pointerId)
        return self._pressed()

    @staticmethod
    def _is_trigger(event: Any) -> bool:
        return str(event.key) in (" ", "Enter", "Spacebar")

    def _key_down(self, event: Any) -> Any:
        if not self._is_trigger(event):
            return None
        event.preventDefault()  # no page scroll on Space, no synthetic click on Enter
        if event.repeat:
            return None
        return self._pressed()

    def _key_up(self, event: Any) -> None:
        if self._is_trigger(event):
            event.preventDefault()
            self._released()

    def _pressed(self) -> Any:
        if self.recording:
            if not self.hold.checked:
                self.recording = False  # a second press ends a timed recording early
            return None
        if self.target is None or not self.camera.running:
            return None
        self.recording = True
        self.button.setAttribute("aria-pressed", "true")
        self.button.classList.add("recording")
        return self._record(self.target)

    def _released(self) -> None:
        if self.hold.checked:
            self.recording = False

    # -- recording -----------------------------------------------------------------------------------------------
    async def _record(self, target: CaptureTarget) -> None:
        interval = 1 / self._number(self.fps, 1, 30)
        limit = None
        self.taken = 0
        try:
            if not self.hold.checked:
                limit = max(1, round(self._number(self.duration, 1, 60) / interval))
                await self._countdown(self._number(self.delay, 0, 10))
            while self.recording and self.camera.running and self.target is target:
                started = time.monotonic()
                if self.camera.has_picture(self.USER):
                    self._pending.append(await self.camera.jpeg(self.USER))
                    self.taken += 1
                    self.button.textContent = f"Recording… {self.taken}"
                    self._add_pending(target)
                    if limit is not None and self.taken >= limit:
                        break
                await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))
        finally:
            self.recording = False
            self.button.textContent = self._idle_text()
            self.button.setAttribute("aria-pressed", "false")
            self.button.classList.remove("recording")
        if self._adding is not None:
            await self._adding
        if self.taken:
            self.feedback.say(f"Recorded {plural(self.taken, 'picture')} for {quoted(target.label)}.")

    async def _countdown(self, delay: float) -> None:
        """Show the seconds left before a timed recording starts; a second press or closing cancels it."""
        end = time.monotonic() + delay
        while self.recording and self.target is not None and (left := end - time.monotonic()) > 0:
            self.button.textContent = f"Starts in {int(left + 0.999)} s…"
            await asyncio.sleep(min(left, 0.25))

    def _add_pending(self, target: CaptureTarget) -> None:
        """Add the frames taken so far, unless an addition is running: it takes them when it is done."""
        if self._adding is None or self._adding.done():
            self._adding = dom.spawn(self._add_all(target), self.feedback.failure)

    async def _add_all(self, target: CaptureTarget) -> None:
        while self._pending:
            frames, self._pending = self._pending, []
            await self.add(target.label, frames)


def _camera_message(error: BaseException) -> str:
    """getUserMedia failures in words a person can act on."""
    text = js_message(error)
    if "NotAllowed" in text or "Permission" in text:
        return "The camera was not allowed. Allow it in the browser's site settings and try again."
    if "NotFound" in text or "Requested device not found" in text:
        return "No camera was found. Connect one and try again."
    if "NotReadable" in text or "Could not start" in text:
        return "The camera is in use by another program or tab. Close it there and try again."
    return f"The camera could not be started: {text}"
