"""Places on a labgrid coordinator: find the benches that match, acquire one, release it.

labgrid's coordinator never releases a place by itself: an acquisition belongs to a
``host/user`` name, not to a connection, so a client that dies keeps its place
(reservations expire, acquired ones do not). gpiorig adds a **lease** to every place
it acquires, kept in the place's comment (``[gpiorig lease: ...]``, after whatever
comment the team wrote): who holds it (host, user, pid, session token) and until when.
A watchdog process (:mod:`gpiosim.farm._watchdog`) renews it while the session lives
and releases the place as soon as the session dies, however it died; if the watchdog
dies too (the whole client machine went), the lease runs out and the next gpiorig
session that wants a bench releases the place (labgrid's ``--kick``), saying so.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import os
import re
import socket
import time
from collections.abc import Callable
from typing import Any, Final

from gpiosim.farm._errors import FarmBusyError, FarmError

LEASE_SECONDS: Final = float(os.environ.get("GPIORIG_FARM_LEASE", "30"))
"""How long a lease lasts without renewal (the watchdog renews it every third of it);
``GPIORIG_FARM_LEASE`` seconds, default 30."""

_LEASE = re.compile(
    r"\s*\[gpiorig lease: (?P<holder>\S+) pid (?P<pid>\d+) token (?P<token>\S+) "
    r"since (?P<since>\d+) until (?P<until>\d+)\]$"
)


@dataclasses.dataclass(frozen=True)
class Lease:
    holder: str  # labgrid's host/user
    pid: int
    token: str
    since: int
    until: int

    def text(self) -> str:
        return (
            f" [gpiorig lease: {self.holder} pid {self.pid} token {self.token} "
            f"since {self.since} until {self.until}]"
        )


def split_comment(comment: str) -> tuple[str, Lease | None]:
    """A place comment's own text and its gpiorig lease, if any."""
    match = _LEASE.search(comment or "")
    if match is None:
        return comment or "", None
    lease = Lease(
        match["holder"], int(match["pid"]), match["token"], int(match["since"]),
        int(match["until"]),
    )  # fmt: skip
    return comment[: match.start()], lease


def parse_match(spec: str) -> list[tuple[str, str]]:
    """``--farm-place``: ``KEY=GLOB[,KEY=GLOB...]`` on the places' tags, or a glob on
    their names (``name=GLOB`` is the same)."""
    terms = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        key, eq, value = part.partition("=")
        terms.append((key.strip(), value.strip()) if eq else ("name", key))
    if not terms:
        raise FarmError(f"--farm-place {spec!r} matches nothing: write e.g. gpiorig-rig=pi5-*")
    return terms


def place_matches(name: str, tags: dict[str, str], terms: list[tuple[str, str]]) -> bool:
    values = {**tags, "name": name}
    return all(key in values and fnmatch.fnmatchcase(values[key], glob) for key, glob in terms)


def _when(stamp: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(stamp))


class Coordinator:
    """A connection to a labgrid coordinator (labgrid's own client session)."""

    def __init__(self, address: str) -> None:
        from labgrid.remote.client import start_session

        self.address = address
        try:
            self.session = start_session(address)
        except Exception as exc:
            raise FarmError(f"cannot reach the labgrid coordinator at {address}: {exc}") from exc
        self.loop = self.session.loop
        self.holder = f"{self.session.gethostname()}/{self.session.getuser()}"

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.loop.run_until_complete(self.session.stop())
            self.loop.run_until_complete(self.session.close())

    def __enter__(self) -> Coordinator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, request: Any) -> None:
        import grpc

        async def call() -> None:
            await getattr(self.session.stub, method)(request)
            await self.session.sync_with_coordinator()

        try:
            self.loop.run_until_complete(call())
        except grpc.aio.AioRpcError as exc:
            raise FarmError(exc.details()) from None

    def places(self) -> dict[str, Any]:
        """The coordinator's places, as of now."""
        self.loop.run_until_complete(self.session.sync_with_coordinator())
        return dict(self.session.places)

    def matching(self, terms: list[tuple[str, str]]) -> list[Any]:
        return [p for n, p in sorted(self.places().items()) if place_matches(n, p.tags, terms)]

    def try_acquire(self, name: str) -> bool:
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb

        try:
            self._call("AcquirePlace", pb.AcquirePlaceRequest(placename=name))
        except FarmError:
            return False
        return True

    def release(self, name: str, fromuser: str | None = None) -> None:
        """Release a place (only if ``fromuser`` still holds it, when given)."""
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb

        request = pb.ReleasePlaceRequest(placename=name)
        if fromuser is not None:
            request = pb.ReleasePlaceRequest(placename=name, fromuser=fromuser)
        self._call("ReleasePlace", request)

    def set_comment(self, name: str, comment: str) -> None:
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb

        self._call("SetPlaceComment", pb.SetPlaceCommentRequest(placename=name, comment=comment))

    # -- leases -----------------------------------------------------------------------
    def lease_of(self, name: str) -> Lease | None:
        place = self.places().get(name)
        return None if place is None else split_comment(place.comment)[1]

    def write_lease(self, name: str, lease: Lease | None) -> None:
        place = self.places().get(name)
        if place is None:
            return
        own, _ = split_comment(place.comment)
        self.set_comment(name, own + (lease.text() if lease else ""))

    def release_leased(self, name: str, token: str) -> bool:
        """Release a place if the lease ``token`` still holds it; True if released."""
        place = self.places().get(name)
        if place is None:
            return False
        own, lease = split_comment(place.comment)
        if lease is None or lease.token != token:
            return False
        if place.acquired:
            self.release(name, fromuser=place.acquired)
        self.set_comment(name, own)
        return True

    def kick_expired(self, places: list[Any], now: float, log: Callable[[str], None]) -> None:
        """Release places whose gpiorig lease ran out (their holder's machine is gone)."""
        for place in places:
            _, lease = split_comment(place.comment)
            if place.acquired and lease is not None and lease.until < now:
                log(
                    f"farm: {place.name}: the lease of {lease.holder} (pid {lease.pid}) "
                    f"ran out at {_when(lease.until)}: releasing it"
                )
                with contextlib.suppress(FarmError):
                    self.release_leased(place.name, lease.token)

    # -- the whole move ---------------------------------------------------------------
    def acquire_matching(
        self,
        spec: str,
        *,
        timeout: float,
        token: str,
        log: Callable[[str], None] = lambda _m: None,
        poll: float = 1.0,
    ) -> str:
        """Acquire a free place matching ``spec`` and lease it; wait up to ``timeout``.

        Raises:
            FarmError: nothing matches.
            FarmBusyError: every match stayed taken; the message names who holds each.
        """
        terms = parse_match(spec)
        end = time.monotonic() + timeout
        said_waiting = False
        while True:
            candidates = self.matching(terms)
            if not candidates:
                known = ", ".join(sorted(self.places())) or "none"
                raise FarmError(
                    f"no place on {self.address} matches {spec!r} (places: {known}); a "
                    "place is tagged e.g. `labgrid-client -p NAME set-tags gpiorig-rig=pi5-bench`"
                )
            self.kick_expired(candidates, time.time(), log)
            for place in candidates:
                if place.acquired or place.reservation:
                    continue
                if self.try_acquire(place.name):
                    now = int(time.time())
                    lease = Lease(self.holder, os.getpid(), token, now, now + int(LEASE_SECONDS))
                    self.write_lease(place.name, lease)
                    return str(place.name)
            if time.monotonic() >= end:
                raise FarmBusyError(self._who_holds(spec, candidates, timeout))
            if not said_waiting:
                log(f"farm: every bench matching {spec!r} is taken; waiting up to {timeout:g} s")
                said_waiting = True
            time.sleep(poll)

    def _who_holds(self, spec: str, places: list[Any], timeout: float) -> str:
        lines = [f"no bench matching {spec!r} came free within {timeout:g} s:"]
        for place in self.matching(parse_match(spec)) or places:
            _, lease = split_comment(place.comment)
            if place.acquired:
                who = f"held by {place.acquired}"
                if lease is not None:
                    who += f" (pid {lease.pid}, since {_when(lease.since)})"
            elif place.reservation:
                who = f"reserved ({place.reservation})"
            else:
                who = "free now"
            lines.append(f"  {place.name}: {who}")
        return "\n".join(lines)


def session_token() -> str:
    """A token that names one session's lease."""
    return f"{socket.gethostname()}-{os.getpid()}-{os.urandom(4).hex()}"
