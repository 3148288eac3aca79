"""`loopwell schedule ...`: scheduled campaigns as Prefect deployments (see loop.run.schedules).

Each command talks to the Prefect API that `loop.run.prefect_server.prefect_api`
finds: `$PREFECT_API_URL`, the server of a running `loopwell schedule serve`,
or one started for the command (10-30 s here) and stopped after it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

schedule_app = typer.Typer(no_args_is_help=True, help="Scheduled campaigns (Prefect "
                           "deployments on a Prefect server): add, list, pause, resume, "
                           "run-now, remove, serve.")


def _console():
    from loop.run.cli import console

    return console


@schedule_app.command("add")
def add(
    campaign_file: Path = typer.Argument(..., help="campaign YAML with a `schedule`"),
    store: Optional[str] = typer.Option(None, help="SQLAlchemy URL of the store"),
    compute: str = typer.Option("local", help="local or ray, for each scheduled run"),
) -> None:
    """Record a campaign and create (or update) its schedule's deployment."""
    from loop.campaign.lifecycle import register
    from loop.campaign.spec import load_spec
    from loop.run.cli import _store
    from loop.run.prefect_server import prefect_api
    from loop.run.schedules import ScheduleError, apply_schedule

    spec = load_spec(campaign_file)
    if spec.schedule is None:
        raise ScheduleError(f"{campaign_file}: no `schedule` in the campaign file")
    db = _store(store)
    register(db, spec)
    with prefect_api():
        apply_schedule(spec, store=db.url, base_dir=campaign_file.resolve().parent,
                       compute=compute)
    _console().print(f"scheduled {spec.name}; `loopwell schedule serve` runs it")


@schedule_app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """List scheduled campaigns: schedule, paused, next run, last run and what it said."""
    from loop.run.prefect_server import prefect_api
    from loop.run.schedules import list_schedules

    with prefect_api():
        rows = list_schedules()
    if as_json:
        import json

        print(json.dumps(rows, indent=2, default=str))
        return
    console = _console()
    if not rows:
        console.print("no scheduled campaigns")
    for r in rows:
        state = "paused" if r["paused"] else f"next run {r['next_run'] or '-'}"
        console.print(f"{r['campaign']}: {r['schedule']}, {state}; last run "
                      f"{r['last_state'] or '-'}: {r['last_message'] or ''}", highlight=False)


@schedule_app.command("pause")
def pause(campaign: str = typer.Argument(..., help="campaign name")) -> None:
    """Pause a campaign's schedule."""
    from loop.run.prefect_server import prefect_api
    from loop.run.schedules import pause_schedule

    with prefect_api():
        pause_schedule(campaign)
    _console().print(f"paused the schedule of {campaign}")


@schedule_app.command("resume")
def resume(campaign: str = typer.Argument(..., help="campaign name")) -> None:
    """Resume a paused schedule."""
    from loop.run.prefect_server import prefect_api
    from loop.run.schedules import resume_schedule

    with prefect_api():
        resume_schedule(campaign)
    _console().print(f"resumed the schedule of {campaign}")


@schedule_app.command("run-now")
def run_now_(campaign: str = typer.Argument(..., help="campaign name")) -> None:
    """Ask the worker to run a scheduled campaign now (`loopwell schedule serve` runs it)."""
    from loop.run.prefect_server import prefect_api
    from loop.run.schedules import run_now

    with prefect_api():
        run_id = run_now(campaign)
    _console().print(f"flow run {run_id} of {campaign} is due now")


@schedule_app.command("remove")
def remove(campaign: str = typer.Argument(..., help="campaign name")) -> None:
    """Delete a campaign's deployment (the campaign stays; `serve` re-adds it while its
    stored spec has a schedule)."""
    from loop.run.prefect_server import prefect_api
    from loop.run.schedules import ScheduleError, remove_schedule

    with prefect_api():
        if not remove_schedule(campaign):
            raise ScheduleError(f"campaign '{campaign}' has no schedule on the Prefect server")
    _console().print(f"removed the schedule of {campaign}")


@schedule_app.command("serve")
def serve(
    store: Optional[str] = typer.Option(None, help="SQLAlchemy URL of the store"),
    limit: int = typer.Option(4, help="flow runs the worker runs at once"),
    sync_s: float = typer.Option(30.0, help="seconds between syncs of the store's schedules"),
) -> None:
    """Run the schedules in the foreground until Ctrl-C: a Prefect server on 127.0.0.1
    (unless PREFECT_API_URL is set), a deployment per scheduled campaign, a worker."""
    from loop.run.schedule_serve import serve_schedules

    console = _console()
    try:
        serve_schedules(store, limit=limit, sync_s=sync_s,
                        say=lambda line: console.print(line, highlight=False))
    except KeyboardInterrupt:
        console.print("stopped the worker and the Prefect server we started")
