"""A campaign's life in the store: registered, corrected or extended, written by one run at a time."""

from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from typing import Callable, Iterator

from loop.campaign.spec import (CampaignSpec, GeneDesign, SpecError, incompatible_changes,
                                spec_changes)
from loop.campaign.states import ExperimentState
from loop.campaign.store import Store
from loop.campaign.store.base import CampaignBusy


def keep_recorded_defaults(store: Store, spec: CampaignSpec) -> CampaignSpec:
    """Return `spec` as the campaign was recorded, where a later default would change it.

    `prior_screens` left unset keeps what the campaign was recorded with: a gene
    campaign recorded before the field existed learned from no earlier screen,
    and the new default (the public screens) would give its model new features
    mid-campaign, so it keeps none (and is recorded so from then on).
    """
    record = store.campaign(spec.name)
    design = spec.design_space
    if record is None or not isinstance(design, GeneDesign) or design.prior_screens is not None:
        return spec
    recorded = record.spec.get("design_space", {})
    kept = recorded.get("prior_screens", []) if recorded.get("kind") == "genes" else None
    if kept is None:
        return spec
    return spec.model_copy(
        update={"design_space": design.model_copy(update={"prior_screens": list(kept)})})


def register(store: Store, spec: CampaignSpec) -> None:
    """Record a campaign, or apply a changed spec where that is safe.

    Before anything was sent to the lab, any change applies (proposals made
    under the old spec are dropped); afterwards only `COMPATIBLE_CHANGES`
    (more rounds, the description, how to reach the lab) do.

    Raises:
        SpecError: for a change that would misread what was measured.
    """
    new = spec.model_dump(mode="json")
    record = store.campaign(spec.name)
    if record is None:
        store.create_campaign(spec.name, new)
        return
    if record.spec == new:
        return
    if not spec_changes(record.spec, new):
        # the same campaign, recorded before a field was added to the spec (a new
        # field's default reads like its absence): keep what it has, store the new form
        store.replace_spec(spec.name, new)
        return
    sent = [e for e in store.experiments(spec.name)
            if e.state not in (ExperimentState.PROPOSED, ExperimentState.APPROVED)]
    if not sent:
        store.delete_campaign(spec.name)
        store.create_campaign(spec.name, new)
        return
    if bad := incompatible_changes(record.spec, new):
        raise SpecError(
            f"campaign '{spec.name}' has experiments with the lab, so {', '.join(bad)} "
            f"cannot change; give the campaign another name, or `loopwell delete "
            f"{spec.name}` first")
    store.replace_spec(spec.name, new)


@contextmanager
def writer_lock(store: Store, name: str, ttl_s: float = 3600.0) -> Iterator[Callable[[], None]]:
    """Hold a campaign's writer lock: one run at a time changes a campaign.

    The lock lasts `ttl_s` and is renewed by the function yielded (call it
    between long steps); a holder that was a process of this machine and no
    longer runs (killed) is taken over at once.

    Raises:
        CampaignBusy: when another live run holds it.
    """
    owner = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"

    def take() -> None:
        holder = store.acquire_lock(name, owner, ttl_s, is_stale=_is_gone)
        if holder is not None:
            raise CampaignBusy(f"campaign '{name}' is being run by {holder}; wait for that "
                               "run to end (or stop it) and run again")

    take()
    try:
        yield take
    finally:
        store.release_lock(name, owner)


def _is_gone(holder: str) -> bool:
    """Whether a lock holder (`host:pid:...`) is a process of this host that no longer runs."""
    import psutil

    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    return host == socket.gethostname() and pid.isdigit() and not psutil.pid_exists(int(pid))
