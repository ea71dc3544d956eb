"""Wake up when a watched folder changes, without scanning the disk.

Three sources, any of which sets the same "something changed" flag:
* inotify (via ctypes) on the watched folder and the folders below it up to ``depth``: a card
  copied or moved in, a mount point created by udisks, an export file closed after writing;
* the kernel mount table: ``/proc/self/mountinfo`` reports POLLPRI when anything is mounted or
  unmounted (a card inserted at the counter), watched from a small thread because asyncio's
  selector only waits for readability (which that file always has);
* a slow fallback tick (``fallback_poll_seconds``) for filesystems without inotify (network shares).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import os
import select
import struct
import threading
from collections.abc import AsyncIterator
from pathlib import Path

log = logging.getLogger(__name__)

IN_MODIFY = 0x002
IN_ATTRIB = 0x004
IN_CLOSE_WRITE = 0x008
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_IGNORED = 0x8000  # reported by the kernel (not requested): the watch is gone
IN_ISDIR = 0x40000000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
# IN_MODIFY keeps the settle window open while a file is still being written (a copy in progress).
MASK = (
    IN_MODIFY
    | IN_CLOSE_WRITE
    | IN_MOVED_TO
    | IN_MOVED_FROM
    | IN_CREATE
    | IN_DELETE
    | IN_ATTRIB
    | IN_DELETE_SELF
)
_EVENT = struct.Struct("iIII")


class Inotify:
    """A minimal inotify binding: add watches, read (wd, mask, name) records."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self._add = libc.inotify_add_watch
        self._add.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        self.fd: int = fd
        self.watches: dict[int, Path] = {}

    def add(self, path: Path) -> None:
        # Asked again even for a path already watched: a card mounted on the folder is a new inode
        # behind the same path and needs its own watch (the kernel returns the same wd otherwise).
        wd = self._add(self.fd, os.fsencode(path), MASK)
        if wd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"inotify_add_watch: {os.strerror(err)}")
        self.watches[wd] = path

    def read(self) -> list[tuple[Path | None, int, str]]:
        try:
            buf = os.read(self.fd, 65536)
        except BlockingIOError:
            return []
        out = []
        offset = 0
        while offset + _EVENT.size <= len(buf):
            wd, mask, _cookie, length = _EVENT.unpack_from(buf, offset)
            name = buf[offset + _EVENT.size : offset + _EVENT.size + length].rstrip(b"\0")
            offset += _EVENT.size + length
            if mask & IN_IGNORED:  # folder removed or unmounted
                self.watches.pop(wd, None)
            out.append((self.watches.get(wd), mask, os.fsdecode(name)))
        return out

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


class FolderWatch:
    def __init__(self, root: Path, depth: int, fallback_seconds: float, settle_seconds: float) -> None:
        self.root = root
        self.depth = depth
        self.fallback = fallback_seconds
        self.settle = settle_seconds
        self._changed = asyncio.Event()
        self._inotify: Inotify | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.mode = "poll"

    def start(self) -> None:
        """Safe to call again after stop() (the supervisor restarts a failed driver)."""
        loop = asyncio.get_running_loop()
        self._stop.clear()
        try:
            self._inotify = Inotify()
            loop.add_reader(self._inotify.fd, self._on_inotify)
            self.mode = "inotify"
        except OSError as exc:
            log.warning("inotify unavailable (%s); polling every %.0f s", exc, self.fallback)
            self._inotify = None
        self._rewatch()
        self._wake_r, self._wake_w = os.pipe()  # lets stop() interrupt the thread's poll at once
        self._thread = threading.Thread(target=self._mounts, args=(loop,), name="cpap-mounts", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._inotify is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._inotify.fd)
            self._inotify.close()
            self._inotify = None
        if self._thread is not None:
            os.write(self._wake_w, b"x")
            self._thread.join(timeout=2)
            self._thread = None
            os.close(self._wake_r)
            os.close(self._wake_w)

    def _rewatch(self) -> None:
        """Watch the root and the folders below it down to ``depth`` (not inside DATALOG)."""
        if self._inotify is None:
            return
        frontier = [self.root]
        for level in range(self.depth + 1):
            nxt = []
            for folder in frontier:
                try:
                    self._inotify.add(folder)
                except OSError:
                    continue
                if level < self.depth:
                    with contextlib.suppress(OSError):
                        nxt += [p for p in folder.iterdir() if p.is_dir() and p.name.upper() != "DATALOG"]
            frontier = nxt

    def _on_inotify(self) -> None:
        if self._inotify is None:
            return
        events = self._inotify.read()
        if any(mask & IN_ISDIR and mask & (IN_CREATE | IN_MOVED_TO) for _, mask, _ in events):
            self._rewatch()
        if events:
            self._changed.set()

    def _mounts(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            fd = os.open("/proc/self/mountinfo", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return
        try:
            poller = select.poll()
            poller.register(fd, select.POLLPRI | select.POLLERR)
            poller.register(self._wake_r, select.POLLIN)
            while not self._stop.is_set():
                ready = poller.poll(5000)
                if any(f == fd for f, _ in ready):
                    os.lseek(fd, 0, os.SEEK_SET)
                    while os.read(fd, 65536):  # reading to the end re-arms the notification
                        pass
                    with contextlib.suppress(RuntimeError):  # loop closed while stopping
                        loop.call_soon_threadsafe(self._changed.set)
        finally:
            os.close(fd)

    async def changes(self) -> AsyncIterator[str]:
        """Yields once at start, then after each settled burst of changes or fallback tick."""
        yield "start"
        while True:
            try:
                await asyncio.wait_for(self._changed.wait(), self.fallback)
                reason = "event"
            except TimeoutError:
                reason = "fallback"
            # Settle: a card being copied produces a burst; read once it has been quiet a moment.
            while self._changed.is_set():
                self._changed.clear()
                if self.settle:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), self.settle)
                if reason == "event":
                    self._rewatch()
            yield reason
