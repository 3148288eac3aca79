"""Prefect flows: a campaign as a flow run, each step of a round as a task run.

Lab steps are not retried here: the lab adapter owns the one retry policy of
each lab call (an outage used to mean retries inside retries). A flow run
that ends with its round waiting for the lab completes with the state name
"Waiting", so Prefect shows a waiting campaign as such.
"""

from __future__ import annotations

from typing import Any, Callable

from loop.run.settings import configure_environment

configure_environment()

from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.states import Completed  # noqa: E402

STEPS = ("fit", "propose", "approve", "dispatch", "collect", "finish")


def _make_task(step: str):
    @task(name=f"{step}-round", cache_policy=NO_CACHE, task_run_name=f"{step}-round-{{r}}")
    def _step(fn: Callable[[int], Any], r: int) -> Any:
        return fn(r)

    return _step


TASKS = {step: _make_task(step) for step in STEPS}


def run_step_as_task(step: str, fn: Callable[[int], Any], r: int) -> Any:
    """Run one step of a round as a Prefect task run."""
    return TASKS[step](fn, r)


@flow(name="loopwell-campaign", flow_run_name="{name}", persist_result=False,
      validate_parameters=False)
def campaign_flow(name: str, campaign: Any):
    """Run every round of `campaign` (a `loop.campaign.Campaign`) that can run now."""
    status = campaign.run(call=run_step_as_task)
    if status == "done":
        return str(status)
    # completed, and named for what it waits for
    return Completed(message=f"{name}: {status}", name=_state_name(status), data=str(status))


def _state_name(status: str) -> str:
    return {"waiting-for-lab": "Waiting", "awaiting-approval": "AwaitingApproval"}.get(
        str(status), "Completed")


def run_campaign(campaign) -> str:
    """Run a campaign as a Prefect flow run; return its status."""
    result = campaign_flow(name=campaign.spec.name, campaign=campaign)
    return str(result.result() if hasattr(result, "result") else result)


@flow(name="loopwell-scheduled-run", flow_run_name="{campaign}", persist_result=False)
def scheduled_run(campaign: str, store: str, base_dir: str | None = None,
                  compute: str = "local"):
    """Run a scheduled campaign once, from its spec in the store (`loop.run.schedules`)."""
    from prefect import get_run_logger

    from loop.run.schedules import STATE_NAMES, run_scheduled

    status, message = run_scheduled(campaign, store, base_dir, compute, call=run_step_as_task)
    get_run_logger().info(message)
    return Completed(message=message, name=STATE_NAMES.get(status, "Completed"), data=status)


def flow_runs(name: str | None = None) -> list[dict[str, Any]]:
    """Return Prefect's own records of campaign flow runs, scheduled ones too (newest first)."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    async def _read():
        async with get_client() as client:
            runs = await client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(
                    any_=["loopwell-campaign", "loopwell-scheduled-run"])),
                sort=FlowRunSort.START_TIME_DESC, limit=200)
        return [{"name": r.name, "state": r.state_name, "id": str(r.id),
                 "start": r.start_time} for r in runs if name is None or r.name == name]

    return asyncio.run(_read())


__all__ = ["campaign_flow", "flow_runs", "run_campaign", "scheduled_run"]
