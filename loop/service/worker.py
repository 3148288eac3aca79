"""The worker: advances campaigns off the request path, one at a time.

Routes never fit or propose: they change the store and `enqueue` the
campaign. A thread started in the app's lifespan takes names from a queue
and calls `Campaign.run()` (instrument in this process), which goes as far
as the campaign can go now (a batch proposed and awaiting approval, a batch
dispatched and waiting for the lab, or done) and returns. A campaign that
another process is running (`CampaignBusy`) is tried again a little later.
When a run leaves a new batch waiting (for approval or for the lab), the
campaign's webhook is told. Every `poll_s` the campaigns waiting for a lab
that is not `manual` are queued, so that what such a lab has finished is
collected without anyone asking (a run in the service never waits for a lab).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any, Callable

from loop.campaign.states import CampaignStatus, ExperimentState
from loop.campaign.store.base import CampaignBusy
from loop.service import webhook

log = logging.getLogger("loopwell.service")
_READY = (CampaignStatus.AWAITING_APPROVAL, CampaignStatus.WAITING_FOR_LAB)
_STOPPED = (CampaignStatus.PAUSED, CampaignStatus.CANCELLED)


class Worker:
    """One thread that runs queued campaigns, one at a time.

    Args:
        cache: the `CampaignCache` campaigns are taken from.
        webhook_of: campaign name -> the URL to tell when a batch is ready (or None).
        webhook_secret: the HMAC key of the webhook's signature (None: unsigned).
        retry_s: how long to wait before running a busy campaign again.
        poll_s: how often campaigns waiting for a (non-manual) lab are run again.
    """

    def __init__(self, cache: Any, webhook_of: Callable[[str], str | None] = lambda n: None,
                 webhook_secret: str | None = None, retry_s: float = 2.0,
                 poll_s: float = 30.0) -> None:
        self.cache = cache
        self.store = cache.store
        self.webhook_of = webhook_of
        self.webhook_secret = webhook_secret
        self.retry_s = retry_s
        self.poll_s = poll_s
        self._next_poll = time.monotonic() + poll_s
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._queued: set[str] = set()
        self._running: str | None = None
        self._holds: dict[str, CampaignStatus] = {}
        self._told: dict[str, tuple[int, str]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        #: the last error of each campaign's run (cleared by a run that succeeds)
        self.errors: dict[str, str] = {}
        #: webhook deliveries: (campaign, round, status code or error)
        self.deliveries: list[tuple[str, int, Any]] = []

    # -- control ----------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="loopwell-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the run in progress (a run stopped midway resumes from the store)."""
        self._stopping.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def enqueue(self, name: str) -> None:
        """Ask for a run of campaign `name` (once, however often it is asked while queued)."""
        with self._lock:
            if name in self._queued:
                return
            self._queued.add(name)
        self._queue.put(name)

    def hold(self, name: str, status: CampaignStatus) -> None:
        """Keep a person's pause or cancel over a run in progress, which would overwrite it."""
        with self._lock:
            self._holds[name] = status

    def release(self, name: str) -> None:
        with self._lock:
            self._holds.pop(name, None)

    def state(self, name: str) -> tuple[bool, bool, str | None]:
        """Return (queued, running, last error) of a campaign."""
        with self._lock:
            return name in self._queued, self._running == name, self.errors.get(name)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until nothing is queued or running; return whether that happened in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._queued and self._running is None:
                    return True
            time.sleep(0.02)
        return False

    # -- the loop -----------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stopping.is_set():
            if time.monotonic() >= self._next_poll:
                self._next_poll = time.monotonic() + self.poll_s
                self._poll_labs()
            try:
                name = self._queue.get(timeout=max(0.01, self._next_poll - time.monotonic()))
            except queue.Empty:
                continue
            if name is None:
                break
            with self._lock:
                self._queued.discard(name)
                self._running = name
            try:
                self._advance(name)
            finally:
                with self._lock:
                    self._running = None

    def _poll_labs(self) -> None:
        """Queue the campaigns waiting for a lab that answers by itself (not `manual`)."""
        try:
            for name in self.store.campaign_names():
                record = self.store.campaign(name)
                if record is not None and record.status == CampaignStatus.WAITING_FOR_LAB \
                        and record.spec.get("lab", {}).get("kind") != "manual":
                    self.enqueue(name)
        except Exception:  # noqa: BLE001 - a store that hiccups is asked again next time
            log.exception("polling campaigns waiting for their labs failed")

    def _advance(self, name: str) -> None:
        try:
            campaign = self.cache.get(name)
            status = campaign.run()
        except CampaignBusy:
            timer = threading.Timer(self.retry_s, self.enqueue, [name])
            timer.daemon = True
            timer.start()
            return
        except Exception as exc:  # noqa: BLE001 - one campaign's failure never stops the worker
            log.exception("campaign %s: run failed", name)
            self.errors[name] = f"{type(exc).__name__}: {exc}"
            return
        self.errors.pop(name, None)
        with self._lock:
            held = self._holds.get(name)
        if held is not None and status not in _STOPPED:
            self.store.set_campaign_status(name, held)
            return
        if status in _READY:
            self._tell(name, CampaignStatus(status))

    def _tell(self, name: str, status: CampaignStatus) -> None:
        """Tell the campaign's webhook about a batch that is ready, once per round and status."""
        url = self.webhook_of(name)
        if not url:
            return
        waiting = [ExperimentState.PROPOSED] if status == CampaignStatus.AWAITING_APPROVAL \
            else [ExperimentState.DISPATCHED, ExperimentState.RUNNING]
        batch = [e for e in self.store.experiments(name, states=waiting) if e.round >= 0]
        if not batch:
            return
        r = max(e.round for e in batch)
        if self._told.get(name) == (r, str(status)):
            return
        event = {"event": "batch.ready", "campaign": name, "round": r, "status": str(status),
                 "experiments": [{"experiment_id": e.id, "candidate_id": e.candidate_id}
                                 for e in batch if e.round == r]}
        try:
            code: Any = webhook.send(url, event, self.webhook_secret)
            self._told[name] = (r, str(status))
        except Exception as exc:  # noqa: BLE001 - a receiver that is down never stops the loop
            log.warning("campaign %s: webhook %s failed: %s", name, url, exc)
            code = f"{type(exc).__name__}: {exc}"
        self.deliveries.append((name, r, code))
