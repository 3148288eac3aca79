# One concept past 300 lines: the local commands of `loopwell` and its one-line errors
# (the service's and the schedules' commands live in service_cli.py and schedule_cli.py).
"""The `loopwell` command line: demo, run, status, export, approve, delete, report (bench,
schedule, serve and token are added from their own modules)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Optional

import click
import typer
from rich.console import Console

from loop.run.errors import ExitCode, UserError, explain, is_debug
from loop.run.settings import (configure_environment, default_store_url,
                               reap_orphaned_prefect_servers, state_dir)

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Active-learning campaigns for biology labs.")
console = Console(width=None if sys.stdout.isatty() else 150)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 150)


@app.callback()
def _options(debug: bool = typer.Option(False, "--debug",
                                        help="show tracebacks (or set LOOPWELL_DEBUG=1)")) -> None:
    if debug:
        os.environ["LOOPWELL_DEBUG"] = "1"


def _add_bench() -> None:
    from loop.bench.cli import bench_app

    app.add_typer(bench_app, name="bench")


def _add_schedule() -> None:
    from loop.run.schedule_cli import schedule_app

    app.add_typer(schedule_app, name="schedule")


def _add_service() -> None:
    from loop.run import service_cli

    service_cli.register(app)


_add_bench()
_add_schedule()
DEMO_SPEC = Path(__file__).resolve().parents[1] / "examples" / "ifng_demo.yaml"


def _store(url: str | None):
    from loop.campaign.store import SqlStore

    return SqlStore(url or default_store_url())


def _say_status(spec, store, status: str, t0: float, n_candidates: int) -> None:
    """Print where the campaign stands after a run, and what it waits for."""
    rounds = store.rounds(spec.name)
    last = next((x for x in reversed(rounds) if x.status == "done"), None)
    n_measured = store.count_measurements(spec.name)
    console.print(f"\n[bold]{spec.name}: {status}[/] in {time.perf_counter() - t0:.0f} s; "
                  f"{n_measured} measured")
    if last is not None and last.n_hits:
        random_ratio = (last.n_measured or 0) / n_candidates
        console.print(f"hit ratio {last.hit_ratio:.3f} ({last.hits_found} of "
                      f"{last.n_hits} hits) vs random {random_ratio:.3f} expected")
    if status == "waiting-for-lab":
        from loop.campaign.states import PENDING_STATES

        pending = store.experiments(spec.name, states=PENDING_STATES)
        jobs = sorted({e.job_id for e in pending if e.job_id})
        console.print(f"waiting for the lab: {len(pending)} experiment(s) of round "
                      f"{pending[0].round if pending else '?'} (job {', '.join(jobs)}); "
                      f"run `loopwell run` again to collect what has arrived")


def _execute(spec, base_dir: Path | None, store_url: str | None, compute: str) -> str:
    """Run a campaign through its Prefect flow with progress on the console."""
    configure_environment()
    reaped = reap_orphaned_prefect_servers()
    if reaped:
        console.print(f"stopped {len(reaped)} Prefect API server(s) left by a killed run "
                      f"(pid {', '.join(map(str, reaped))})")
    from loop.campaign import Campaign
    from loop.run.console import ConsoleReporter
    from loop.report.html import write_report

    store = _store(store_url)
    reporter = ConsoleReporter(console, spec.budget.rounds)
    console.print(f"[bold]campaign {spec.name}[/]: {spec.description or ''}")
    console.print(f"store: {store.display_url}")
    t0 = time.perf_counter()
    with console.status("loading the design space and the lab's table..."):
        campaign = Campaign(spec, store, state_dir=state_dir(), base_dir=base_dir,
                            compute=compute, hook=reporter)
    console.print(f"design space: {campaign.design.n} candidates x "
                  f"{campaign.design.X.shape[1]} features")
    priors = [b.split(":", 1)[1] for b, _, _ in campaign.design.blocks if b.startswith("prior:")]
    if priors:
        console.print(f"prior screens (one learned feature block each): {', '.join(priors)}")
    if compute == "ray":
        with console.status("starting Ray and the instrument actor..."):
            import ray

            ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True,
                     log_to_driver=False, configure_logging=False)
    from loop.run.flows import run_campaign
    from loop.run.settings import start_watchdog

    start_watchdog()  # stops Prefect's server if this run is killed and never resumed

    try:
        status = run_campaign(campaign)
    finally:
        reporter.close()
        campaign.close()
    report = write_report(store, spec.name, state_dir() / "reports" / f"{spec.name}.html",
                          campaign=campaign)
    _say_status(spec, store, status, t0, campaign.design.n)
    console.print(f"report: {report}")
    return status


@app.command()
def demo(
    rounds: int = typer.Option(5, help="rounds of the campaign"),
    batch_size: int = typer.Option(128, help="genes per round"),
    instrument: Optional[str] = typer.Option(
        None, help="instrument: linear (default), gp or ensemble (gp and ensemble use "
        "SVD features)"),
    strategy: Optional[str] = typer.Option(
        None, help="strategy: ucb (default), ei, thompson, uncertainty, random"),
    name: Optional[str] = typer.Option(None, help="campaign name (default: a new one)"),
    compute: str = typer.Option("ray", help="ray (instrument in a Ray actor) or local"),
    store: Optional[str] = typer.Option(None, help="SQLAlchemy URL of the store"),
) -> None:
    """Run the IFN-gamma CRISPR screen campaign on the simulated lab."""
    spec = demo_spec(rounds, batch_size, instrument, strategy, name)
    _execute(spec, DEMO_SPEC.parent, store, compute)


def demo_spec(rounds: int = 5, batch_size: int = 128, instrument: str | None = None,
              strategy: str | None = None, name: str | None = None):
    """Return the demo campaign: the example YAML with the command line's changes."""
    from loop.campaign.spec import load_spec, parse_spec

    raw = load_spec(DEMO_SPEC).model_dump(mode="json")
    raw["name"] = name or f"ifng-demo-{time.strftime('%Y%m%d-%H%M%S')}"
    raw["budget"].update(rounds=rounds, batch_size=batch_size)
    if instrument is not None:
        raw["instrument"] = {"kind": instrument}
        if instrument != "linear":  # stationary kernels want dense features
            raw["design_space"]["features"] = "svd"
    if strategy is not None:
        raw["strategy"] = {"name": strategy}
    return parse_spec(raw)


@app.command()
def run(
    campaign_file: Path = typer.Argument(..., help="campaign YAML"),
    compute: str = typer.Option("ray", help="ray or local"),
    store: Optional[str] = typer.Option(None, help="SQLAlchemy URL of the store"),
) -> None:
    """Run a campaign, or resume it from the store where it stopped."""
    from loop.campaign.spec import load_spec

    spec = load_spec(campaign_file)
    status = _execute(spec, campaign_file.resolve().parent, store, compute)
    if status == "awaiting-approval":
        console.print(f"proposals await approval: loopwell approve {spec.name}")


SERVER_OPTION = typer.Option(None, "--server", envvar="LOOPWELL_SERVER",
                             help="talk to `loopwell serve` at this URL instead of the store")
TOKEN_OPTION = typer.Option(None, "--token", envvar="LOOPWELL_TOKEN",
                            help="the service token (with --server)")


@app.command()
def status(
    campaign: Optional[str] = typer.Argument(None, help="campaign name (default: list all)"),
    store: Optional[str] = typer.Option(None, help="SQLAlchemy URL of the store"),
    flows: bool = typer.Option(False, help="also list the campaign's Prefect flow runs"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of tables"),
    server: Optional[str] = SERVER_OPTION,
    token: Optional[str] = TOKEN_OPTION,
) -> None:
    """Show campaigns, or the rounds of one campaign."""
    from loop.report.table import round_table

    if server:
        return _service_cli()._remote_status(server, token, campaign, as_json)
    db = _store(store)
    if as_json:
        import json

        from loop.report.overview import campaign_overview

        names = [campaign] if campaign else db.campaign_names()
        if campaign:
            _known(db, campaign)
        data = [campaign_overview(db, n) for n in names]
        print(json.dumps(data[0] if campaign else data, indent=2, default=str))
        return
    if campaign is None:
        names = db.campaign_names()
        if not names:
            console.print("no campaigns yet")
        for name in names:
            rec = db.campaign(name)
            console.print(f"{name}: {rec.status}, {db.count_measurements(name)} measurements, "
                          f"{len(db.rounds(name))} rounds started")
        return
    _known(db, campaign)
    rounds = db.rounds(campaign)
    console.print(round_table(rounds, title=f"campaign {campaign}").to_rich())
    front = next((x.pareto for x in reversed(rounds) if x.pareto), None)
    if front:
        console.print("Pareto front of what was measured: " + "; ".join(
            ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else str(v) for k, v in p.items())
            for p in front))
    states: dict[str, int] = {}
    for e in db.experiments(campaign):
        states[e.state] = states.get(e.state, 0) + 1
    console.print("experiments: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items())))
    rejected = db.rejected(campaign)
    if rejected:
        console.print(f"{len(rejected)} rejected inputs, last: {rejected[-1].reason}")
    if flows:
        configure_environment()
        from loop.run.flows import flow_runs

        for run in flow_runs(campaign):
            console.print(f"prefect flow run {run['id']}: {run['state']}, started {run['start']}")


@app.command()
def export(
    campaign: str = typer.Argument(..., help="campaign name"),
    what: str = typer.Option("measurements", help="measurements, proposals or rounds"),
    fmt: str = typer.Option("csv", "--format", help="csv or json"),
    out: Optional[Path] = typer.Option(None, help="file to write (default: standard output)"),
    store: Optional[str] = typer.Option(None, help="SQLAlchemy URL of the store"),
) -> None:
    """Export a campaign's measurements, proposals or rounds as CSV or JSON."""
    import pandas as pd

    from loop.campaign.frames import measurements_frame, proposals_frame

    if what not in ("measurements", "proposals", "rounds"):
        raise UserError(f"--what must be measurements, proposals or rounds, not '{what}'")
    if fmt not in ("csv", "json"):
        raise UserError(f"--format must be csv or json, not '{fmt}'")
    db = _store(store)
    _known(db, campaign)
    if what == "measurements":
        frame = measurements_frame(db.measurements(campaign))
    elif what == "proposals":  # predictions in the instrument's target units
        frame = proposals_frame([e for e in db.experiments(campaign) if e.round >= 0], {})
        frame = frame.drop(columns=["predicted", "predicted_lo90", "predicted_hi90"])
    else:
        frame = pd.DataFrame([r.to_json() for r in db.rounds(campaign)])
    text = frame.to_csv(index=False) if fmt == "csv" else frame.to_json(orient="records",
                                                                         indent=1)
    if out is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"wrote {len(frame)} {what} to {out}")


def _service_cli():
    from loop.run import service_cli

    return service_cli


def _known(db, campaign: str) -> None:
    if db.campaign(campaign) is None:
        names = db.campaign_names()
        known = f"; campaigns: {', '.join(names[:10])}" if names else "; it has no campaigns"
        raise UserError(f"no campaign '{campaign}' in {db.display_url}{known}")


@app.command()
def approve(
    campaign: str = typer.Argument(..., help="campaign name"),
    store: Optional[str] = typer.Option(None, help="SQLAlchemy URL of the store"),
    server: Optional[str] = SERVER_OPTION,
    token: Optional[str] = TOKEN_OPTION,
) -> None:
    """Approve every proposed experiment of a campaign (for `approval: manual`)."""
    if server:
        ids = _service_cli()._remote(server, token, lambda c: c.approve(campaign))
        console.print(f"approved {len(ids)} experiments; the service dispatches them")
        return
    db = _store(store)
    _known(db, campaign)
    ids = [e.id for e in db.experiments(campaign, states=["proposed"])]
    db.set_state(ids, "approved")
    console.print(f"approved {len(ids)} experiments; run the campaign again to dispatch them")


@app.command()
def delete(
    campaign: str = typer.Argument(..., help="campaign name"),
    yes: bool = typer.Option(False, "--yes", "-y", help="do not ask for confirmation"),
    store: Optional[str] = typer.Option(None, help="SQLAlchemy URL of the store"),
) -> None:
    """Delete a campaign and everything measured for it."""
    db = _store(store)
    _known(db, campaign)
    n = db.count_measurements(campaign)
    if not yes and not typer.confirm(f"delete campaign '{campaign}' and its {n} measurements "
                                     f"from {db.display_url}?", default=False):
        console.print("nothing deleted")
        raise typer.Exit(1)
    db.delete_campaign(campaign)
    console.print(f"deleted campaign '{campaign}' ({n} measurements)")


@app.command()
def report(
    campaign: str = typer.Argument(..., help="campaign name"),
    out: Optional[Path] = typer.Option(None, help="HTML file to write"),
    store: Optional[str] = typer.Option(None, help="SQLAlchemy URL of the store"),
    base_dir: Optional[Path] = typer.Option(
        None, help="folder the campaign file's relative paths start from (default: here)"),
) -> None:
    """Write a campaign's HTML report (interactive charts, one file that opens offline)."""
    from loop.report.html import write_report

    db = _store(store)
    _known(db, campaign)
    path = out or state_dir() / "reports" / f"{campaign}.html"
    written = write_report(db, campaign, path, base_dir=base_dir,
                           cache_dir=state_dir() / "features")
    console.print(f"report: {written}")


_add_service()


def run_cli(argv: list[str] | None = None) -> int:
    """Run the command line; return its exit code. Errors are one line (see loop.run.errors)."""
    try:
        result = app(args=argv, standalone_mode=False)
    except typer.Abort:
        result = KeyboardInterrupt()
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except BaseException as exc:  # noqa: BLE001 - every error becomes one line
        if isinstance(exc, SystemExit):
            raise
        result = exc
    if result == ExitCode.INTERRUPTED:  # typer turns Ctrl-C into exit code 130
        result = KeyboardInterrupt()
    if not isinstance(result, BaseException):
        return int(result or 0)
    code, line = explain(result)
    if is_debug():
        from rich.traceback import Traceback

        errors.print(Traceback.from_exception(type(result), result, result.__traceback__))
    errors.print(f"[red]error:[/] {line}", highlight=False)
    return int(code)


def main() -> None:
    sys.exit(run_cli())


if __name__ == "__main__":
    main()
