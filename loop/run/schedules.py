# One concept past 300 lines: a campaign's schedule as a Prefect deployment, each operation
# on it, and the scheduled run itself.
"""Scheduled campaigns: one Prefect deployment per campaign, run by a process worker.

A campaign whose spec has a `schedule` gets a deployment of the flow
`loopwell-scheduled-run` named after it, with the campaign name, the store URL,
the folder its spec's relative paths start from and the compute as parameters,
in the process work pool `loopwell`. A Prefect worker of that pool (`loopwell
schedule serve` starts one) runs each scheduled flow run in a fresh process,
which builds the campaign from the spec in the store and runs it once: it
collects what the lab sent, finishes complete rounds, proposes the next one
when the budget allows, and says what it waits for.

Two runs never overlap on one campaign: each deployment has a concurrency limit
of one that cancels a run due while another runs (`CANCEL_NEW`), and the
campaign's writer lock refuses a second writer anyway (a run that meets it
ends as "Skipped", saying who holds it).

Why a work pool and a worker rather than `flow.serve()`: a served flow runs only
the deployments its process registered when it started, while a worker runs
whatever deployment of its pool is due. So a campaign scheduled while the worker
runs (by `loopwell schedule add` or the HTTP service) is picked up with no
restart, and deployments live on the server whatever runs them. The entry point
is a module path (`loop.run.flows:scheduled_run`), so the worker needs only
loopwell installed: no code storage, no pull steps.

Every function here talks to the Prefect API of `loop.run.prefect_server.prefect_api`;
`loop.run.schedule_serve` runs the server, the worker and the sync together.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

from loop.run.settings import configure_environment, default_store_url, state_dir

FLOW_NAME = "loopwell-scheduled-run"
POOL = "loopwell"
#: how a scheduled run's outcome is named in Prefect (a Completed state of that name)
STATE_NAMES = {"waiting-for-lab": "Waiting", "awaiting-approval": "AwaitingApproval",
               "busy": "Skipped", "paused": "Skipped", "cancelled": "Skipped",
               "missing": "Skipped"}


class ScheduleError(ValueError):
    """A campaign without a schedule where one is needed; the message says what to do."""


# -- one scheduled run ---------------------------------------------------------
def run_scheduled(campaign: str, store: str, base_dir: str | None = None,
                  compute: str = "local", call: Callable | None = None) -> tuple[str, str]:
    """Run a stored campaign once, as its schedule does; return `(status, message)`.

    Never raises for what a schedule meets in the normal course: a campaign
    deleted since it was scheduled ("missing"), paused or cancelled by a person,
    or being run by someone else ("busy"). Other errors (the lab is down, a
    file is missing) raise, and the flow run fails with them.
    """
    configure_environment()
    from loop.campaign import Campaign, SqlStore, parse_spec
    from loop.campaign.states import CampaignStatus, RoundStatus
    from loop.campaign.store.base import CampaignBusy

    db = SqlStore(store)
    stored = db.campaign(campaign)
    if stored is None:
        return "missing", f"{campaign}: no such campaign in {db.display_url}; nothing to do"
    if stored.status in (CampaignStatus.PAUSED, CampaignStatus.CANCELLED):
        return str(stored.status), f"{campaign}: {stored.status} by a person; nothing done"
    n_done = sum(r.status == RoundStatus.DONE for r in db.rounds(campaign))
    n_asked = len(db.experiments(campaign))
    spec = parse_spec(stored.spec, source=f"campaign '{campaign}' in the store")
    runner = Campaign(spec, db, state_dir=state_dir(),
                      base_dir=Path(base_dir) if base_dir else None, compute=compute)
    try:
        status = str(runner.run(call=call))
    except CampaignBusy as exc:
        return "busy", f"{campaign}: skipped, {exc}"
    finally:
        runner.close()
    return status, describe(db, campaign, status, n_done, n_asked)


def describe(db, campaign: str, status: str, n_done_before: int, n_asked_before: int) -> str:
    """Say what a run did and where the campaign stands (one line)."""
    from loop.campaign.states import PENDING_STATES, RoundStatus

    rounds = db.rounds(campaign)
    n_done = sum(r.status == RoundStatus.DONE for r in rounds)
    n_new = len(db.experiments(campaign)) - n_asked_before
    did = []
    if n_done > n_done_before:
        did.append(f"{n_done - n_done_before} round(s) finished")
    if n_new:
        did.append(f"{n_new} experiment(s) proposed")
    done = ", ".join(did) if did else "nothing new"
    if status == "waiting-for-lab":
        pending = db.experiments(campaign, states=PENDING_STATES)
        which = sorted({e.round for e in pending})
        where = f"waiting for the lab: {len(pending)} experiments of round " \
                f"{', '.join(map(str, which)) or '?'}"
    elif status == "awaiting-approval":
        where = f"proposals await approval (loopwell approve {campaign})"
    elif status == "done":
        where = f"done: {n_done} rounds"
    else:
        where = status
    return f"{campaign}: {done}; {where}"


# -- deployments ---------------------------------------------------------------
def prefect_schedule(schedule) -> Any:
    """Translate a `ScheduleSpec` into a Prefect schedule."""
    from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule

    if schedule.cron is not None:
        return CronSchedule(cron=schedule.cron, timezone=schedule.timezone)
    return IntervalSchedule(interval=timedelta(seconds=schedule.interval_s),
                            timezone=schedule.timezone)


def _client():
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True)


def ensure_pool() -> None:
    """Create the process work pool `loopwell` unless it exists."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    with _client() as client:
        try:
            client.create_work_pool(WorkPoolCreate(name=POOL, type="process"))
        except ObjectAlreadyExists:
            pass


def _deployment(client, campaign: str):
    from prefect.exceptions import ObjectNotFound

    try:
        return client.read_deployment_by_name(f"{FLOW_NAME}/{campaign}")
    except ObjectNotFound:
        return None


def apply_schedule(spec, *, store: str | None = None, base_dir: str | Path | None = None,
                   compute: str | None = None) -> str:
    """Create or update the deployment of a scheduled campaign; return its id.

    A paused deployment stays paused; `base_dir` (where the spec's relative
    paths start) and `compute` default to what the deployment had (else none,
    and `local`). Needs a Prefect API (inside `prefect_api()`).
    """
    from prefect.client.schemas.objects import ConcurrencyLimitConfig
    from prefect.deployments.runner import EntrypointType

    if spec.schedule is None:
        raise ScheduleError(f"campaign '{spec.name}' has no schedule: give its spec one, "
                            "e.g. `schedule: {cron: '0 6 * * 1-5', timezone: Europe/Berlin}`")
    ensure_pool()
    with _client() as client:
        old = _deployment(client, spec.name)
    params = {"campaign": spec.name, "store": store or default_store_url(),
              "base_dir": str(Path(base_dir).resolve()) if base_dir else
              (old.parameters.get("base_dir") if old else None),
              "compute": compute or (old.parameters.get("compute") if old else None) or "local"}
    from loop.run.flows import scheduled_run

    deployment = scheduled_run.to_deployment(
        name=spec.name, schedule=prefect_schedule(spec.schedule), parameters=params,
        paused=bool(old and old.paused), tags=["loopwell"],
        description=f"loopwell campaign {spec.name}: {spec.description}".strip(": "),
        concurrency_limit=ConcurrencyLimitConfig(limit=1, collision_strategy="CANCEL_NEW"),
        entrypoint_type=EntrypointType.MODULE_PATH)
    return str(deployment.apply(work_pool_name=POOL))


def remove_schedule(campaign: str) -> bool:
    """Delete a campaign's deployment (and its scheduled runs); return whether it existed."""
    with _client() as client:
        old = _deployment(client, campaign)
        if old is not None:
            client.delete_deployment(old.id)
    return old is not None


def sync_schedules(store: str | None = None,
                   known: dict[str, str] | None = None) -> dict[str, list[str]]:
    """Make the deployments match the store's scheduled campaigns.

    Creates or updates a deployment for each campaign of the store with a
    schedule, and deletes the deployments of this store whose campaign is gone
    or has no schedule any more. `known` (campaign -> spec JSON, updated here)
    remembers what was applied, so that an unchanged campaign whose deployment
    exists is left alone (updating a deployment makes Prefect drop and
    re-create its upcoming runs). Returns the names `applied`, `kept` and `removed`.
    """
    import json

    from loop.campaign import SqlStore, parse_spec

    url = store or default_store_url()
    known = {} if known is None else known
    db = SqlStore(url)
    wanted = {}
    for name in db.campaign_names():
        record = db.campaign(name)
        if record is not None and record.spec.get("schedule"):
            wanted[name] = record.spec
    deployed = {d.name: d for d in _scheduled_deployments()}
    done: dict[str, list[str]] = {"applied": [], "kept": [], "removed": []}
    for name, raw in wanted.items():
        body = json.dumps(raw, sort_keys=True)
        if name in deployed and known.get(name) == body:
            done["kept"].append(name)
            continue
        apply_schedule(parse_spec(raw, source=f"campaign '{name}' in the store"), store=url)
        known[name] = body
        done["applied"].append(name)
    for name, d in deployed.items():
        if d.parameters.get("store") == url and name not in wanted:
            remove_schedule(name)
            known.pop(name, None)
            done["removed"].append(name)
    return done


def _scheduled_deployments() -> list:
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    with _client() as client:
        return client.read_deployments(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[FLOW_NAME])))


def skip_missed_runs() -> list[str]:
    """Cancel the scheduled runs that fell due before a worker could start them, but the last.

    After an outage (the server or the worker down), or while the worker was
    busy, Prefect would run every run that fell due meanwhile, one after the
    other, each a new process; for a campaign each is one run too many. Like cron, loopwell runs a
    missed schedule once: of each campaign's scheduled runs already due, the
    latest stays and the older ones are cancelled, saying why. Runs asked for
    by hand (`run_now`) are left alone. Returns the ids cancelled.
    """
    from datetime import datetime, timezone

    from prefect.client.schemas.filters import (
        DeploymentFilter, DeploymentFilterId, FlowRunFilter, FlowRunFilterExpectedStartTime,
        FlowRunFilterState, FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.states import Cancelled

    due = FlowRunFilter(
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])),
        expected_start_time=FlowRunFilterExpectedStartTime(before_=datetime.now(timezone.utc)))
    skipped = []
    deployments = _scheduled_deployments()
    with _client() as client:
        for d in deployments:
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[d.id])),
                flow_run_filter=due, sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=200)
            for run in [r for r in runs if r.auto_scheduled][1:]:
                client.set_flow_run_state(run.id, Cancelled(
                    message="missed: it fell due before a worker could start it (the worker "
                            "was busy or down); the latest due run goes on"), force=True)
                skipped.append(str(run.id))
    return skipped


# -- what the CLI and the service call -------------------------------------------
def list_schedules() -> list[dict[str, Any]]:
    """Return one row per scheduled campaign: schedule, paused, next run, last run."""
    from prefect.client.schemas.filters import (
        DeploymentFilter, DeploymentFilterId, FlowRunFilter, FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    rows = []
    deployments = _scheduled_deployments()
    with _client() as client:
        for d in sorted(deployments, key=lambda d: d.name):
            by_deployment = DeploymentFilter(id=DeploymentFilterId(any_=[d.id]))
            last = client.read_flow_runs(
                deployment_filter=by_deployment, sort=FlowRunSort.START_TIME_DESC, limit=1,
                flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
                    # runs cancelled because another was running say nothing new
                    type=FlowRunFilterStateType(not_any_=[StateType.SCHEDULED,
                                                          StateType.CANCELLED]))))
            upcoming = client.read_flow_runs(
                deployment_filter=by_deployment, sort=FlowRunSort.EXPECTED_START_TIME_ASC,
                limit=1, flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
                    type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))))
            run = last[0] if last else None
            rows.append({
                "campaign": d.name,
                "schedule": "; ".join(_describe_schedule(s.schedule) for s in d.schedules),
                "paused": bool(d.paused),
                "next_run": upcoming[0].expected_start_time if upcoming else None,
                "last_run": run.start_time if run else None,
                "last_state": run.state_name if run else None,
                "last_message": run.state.message if run and run.state else None,
                "store": d.parameters.get("store"),
                "deployment_id": str(d.id),
            })
    return rows


def _describe_schedule(schedule) -> str:
    if getattr(schedule, "cron", None):
        return f"cron '{schedule.cron}' {schedule.timezone or 'UTC'}"
    if getattr(schedule, "interval", None):
        return f"every {schedule.interval.total_seconds():g} s"
    return str(schedule)


def _known_deployment(client, campaign: str):
    found = _deployment(client, campaign)
    if found is None:
        raise ScheduleError(f"campaign '{campaign}' has no schedule on the Prefect server "
                          "(give its spec a schedule and run `loopwell schedule add`)")
    return found


def pause_schedule(campaign: str) -> None:
    """Pause a campaign's schedule: Prefect drops its upcoming runs and schedules none until
    resumed (a run already due or under way may still go on)."""
    with _client() as client:
        client.pause_deployment(_known_deployment(client, campaign).id)


def resume_schedule(campaign: str) -> None:
    """Resume a paused schedule."""
    with _client() as client:
        client.resume_deployment(_known_deployment(client, campaign).id)


def run_now(campaign: str) -> str:
    """Ask the worker to run a scheduled campaign now; return the flow run's id."""
    with _client() as client:
        run = client.create_flow_run_from_deployment(
            _known_deployment(client, campaign).id, tags=["run-now"])
    return str(run.id)


__all__ = ["FLOW_NAME", "POOL", "ScheduleError", "apply_schedule", "list_schedules",
           "pause_schedule", "remove_schedule", "resume_schedule", "run_now", "run_scheduled",
           "skip_missed_runs", "sync_schedules"]
