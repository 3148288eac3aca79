"""Prefect flows: a campaign as a flow run, each step of a round as a task run."""

from __future__ import annotations

from typing import Any, Callable

from loop.settings import configure_environment

configure_environment()

from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

#: steps that talk to a lab may fail transiently and are retried
_RETRIES = {"dispatch": 3, "collect": 3}


def _make_task(step: str):
    @task(name=f"{step}-round", cache_policy=NO_CACHE, retries=_RETRIES.get(step, 0),
          retry_delay_seconds=2, task_run_name=f"{step}-round-{{r}}")
    def _step(fn: Callable[[int], Any], r: int) -> Any:
        return fn(r)

    return _step


TASKS = {step: _make_task(step)
         for step in ("fit", "propose", "approve", "dispatch", "collect", "finish")}


def run_step_as_task(step: str, fn: Callable[[int], Any], r: int) -> Any:
    """Run one step of a round as a Prefect task run."""
    return TASKS[step](fn, r)


@flow(name="loopwell-campaign", flow_run_name="{name}", persist_result=False,
      validate_parameters=False)
def campaign_flow(name: str, campaign: Any) -> str:
    """Run every remaining round of `campaign` (a `loop.campaign.Campaign`)."""
    return campaign.run(call=run_step_as_task)


def run_campaign(campaign) -> str:
    """Run a campaign as a Prefect flow run; return its status."""
    return campaign_flow(name=campaign.spec.name, campaign=campaign)


def flow_runs(name: str | None = None) -> list[dict[str, Any]]:
    """Return Prefect's own records of campaign flow runs (newest first)."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    async def _read():
        async with get_client() as client:
            runs = await client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=["loopwell-campaign"])),
                sort=FlowRunSort.START_TIME_DESC, limit=200)
        return [{"name": r.name, "state": r.state_name, "id": str(r.id),
                 "start": r.start_time} for r in runs if name is None or r.name == name]

    return asyncio.run(_read())


__all__ = ["campaign_flow", "flow_runs", "run_campaign"]
