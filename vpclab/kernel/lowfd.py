"""Sockets below FD_SETSIZE for libnftables, whatever number of files the process holds.

libnftables 1.0.x waits for the kernel's answers to a batch (every ruleset change) with
select(2) on its netlink socket (``mnl_batch_talk``). Debian builds it with
_FORTIFY_SOURCE, so a socket numbered 1024 or more aborts the whole process ("bit out of
range 0 - FD_SETSIZE on fd_set"); reads (``list tables``) do not select. The kernel gives
a new socket the lowest free number, so a server holding more than ~1,000 descriptors
(connections, namespaces, files) gets such numbers.

`below_fd_setsize(make)` runs ``make()``, which opens one netfilter netlink socket (an
``Nftables()`` context), with the lowest free descriptor below 1024 just freed for it:
the lowest free one if there is one, else one of `RESERVE` placeholders (``/dev/null``,
close-on-exec) kept for that since the first call, when the process still had low
numbers free (`reserve()` takes them early). It checks the socket really landed there
(another thread may have opened a file in between) and tries again if not. When the
context's socket closes, its number is free again and a later call takes it back.
"""
from __future__ import annotations

import errno
import os
import socket
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

FD_SETSIZE = 1024
NETLINK_NETFILTER = 12

RESERVE = 80
"""Placeholders kept: more than the netfilter sockets alive at once (one per namespace
thread `LinuxKernel` keeps, `linux.MAX_THREADS`)."""

ATTEMPTS = 5

_lock = threading.Lock()
_reserve: list[int] = []


class NoLowDescriptor(OSError):
    """No descriptor below FD_SETSIZE could be given to a libnftables socket."""

    def __init__(self, detail: str):
        super().__init__(errno.EMFILE, f"no file descriptor below {FD_SETSIZE} for libnftables: {detail}")


def _top_up() -> None:
    while len(_reserve) < RESERVE:
        fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        if fd >= FD_SETSIZE:
            os.close(fd)
            return
        _reserve.append(fd)


def reserve() -> int:
    """Take the placeholders now (call while the process holds few descriptors); how many."""
    with _lock:
        _top_up()
        return len(_reserve)


def _is_netfilter_socket(fd: int) -> bool:
    try:
        s = socket.socket(fileno=fd)  # reads the socket's family and protocol from fd
    except OSError:  # not a socket, or not open
        return False
    try:
        return s.family == socket.AF_NETLINK and s.proto == NETLINK_NETFILTER
    finally:
        s.detach()  # fd stays open: it is not ours


def _free_low_slot() -> int:
    """Close the lowest free descriptor's placeholder (or find it free); its number."""
    probe = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    os.close(probe)
    if probe < FD_SETSIZE:
        return probe
    if not _reserve:
        raise NoLowDescriptor("all numbers below it are in use and no placeholder is left")
    slot = _reserve.pop()
    os.close(slot)
    return slot


def below_fd_setsize(make: Callable[[], T]) -> T:
    """``make()`` (opening exactly one netfilter netlink socket) with that socket below 1024."""
    with _lock:
        for _ in range(ATTEMPTS):
            _top_up()
            slot = _free_low_slot()
            made = make()
            if _is_netfilter_socket(slot):
                return made
            del made  # its socket got another number (a file opened meanwhile): closed, try again
        raise NoLowDescriptor(f"the socket did not land on a free low number in {ATTEMPTS} attempts")
