"""The command line's service part: `loopwell serve`, `loopwell token ...`, and `--server`.

`status` and `approve` talk to a service through `_remote` when given a server.
"""

from __future__ import annotations

from typing import Optional

import typer

from loop.run.errors import UserError
from loop.run.settings import default_store_url, state_dir


def _console():
    from loop.run.cli import console

    return console


def _remote(server: str, token: str | None, call):
    """Run `call(client)` against a service; its refusals become one-line errors."""
    from loop.service.client import ServiceClient, ServiceError

    if not token:
        raise UserError("--server needs --token (or LOOPWELL_TOKEN): loopwell token create")
    try:
        with ServiceClient(server, token) as client:
            return call(client)
    except ServiceError as exc:
        raise UserError(str(exc)) from None


def _remote_status(server: str, token: str | None, campaign: str | None,
                   as_json: bool = False) -> None:
    """`loopwell status` against a service."""
    from loop.campaign.summary import RoundSummary
    from loop.report.table import round_table

    if as_json:
        import json

        found = _remote(server, token, lambda c: c.campaign(campaign) if campaign
                        else c.campaigns())
        print(json.dumps(found, indent=2))
        return
    if campaign is None:
        found = _remote(server, token, lambda c: c.campaigns())
        if not found:
            _console().print("no campaigns yet")
        for c in found:
            _console().print(f"{c['name']}: {c['status']}, {c['n_measurements']} measurements, "
                          f"{c['n_rounds']} rounds started")
        return
    detail = _remote(server, token, lambda c: c.campaign(campaign))
    rounds = [RoundSummary.from_json({k: v for k, v in r.items() if v is not None})
              for r in detail["rounds"]]
    _console().print(round_table(rounds, title=f"campaign {campaign}: {detail['status']}").to_rich())
    counts = detail["counts"]
    _console().print("experiments: " + ", ".join(f"{k} {v}" for k, v in
                                              sorted(counts["experiments"].items())))
    if counts["rejected"]:
        _console().print(f"{counts['rejected']} rejected inputs")
    if detail["worker"]["last_error"]:
        _console().print(f"[red]the service's last run failed:[/] {detail['worker']['last_error']}")


def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, help="port to listen on"),
    store: Optional[str] = typer.Option(None, help="SQLAlchemy URL of the store"),
    webhook_url: Optional[str] = typer.Option(
        None, help="told (POST, signed with $LOOPWELL_WEBHOOK_SECRET) when a batch is ready, "
        "for campaigns created without their own"),
    log_level: str = typer.Option("info", help="uvicorn's log level"),
    schedules: bool = typer.Option(
        False, help="also run the campaigns' schedules: a Prefect server on loopback (or "
        "PREFECT_API_URL), their deployments and a worker (docs/schedules.md)"),
) -> None:
    """Serve the campaign API (FastAPI + uvicorn) over the store; see docs/service.md."""
    import threading

    import uvicorn

    from loop.service.app import create_app

    url = store or default_store_url()
    app_ = create_app(url, state_dir(), webhook_url=webhook_url)
    _console().print(f"loopwell serve: http://{host}:{port} (docs at /docs), store "
                     f"{app_.state.service.store.display_url}")
    stop = threading.Event()
    runner = None
    if schedules:
        from loop.run.schedule_serve import serve_schedules

        runner = threading.Thread(target=serve_schedules, name="loopwell-schedules",
                                  kwargs={"store": url, "say": _console().print,
                                          "should_stop": stop.is_set}, daemon=True)
        runner.start()
    try:
        uvicorn.run(app_, host=host, port=port, log_level=log_level)
    finally:
        stop.set()  # the schedules stop their worker and server
        if runner is not None:
            runner.join(timeout=60)


token_app = typer.Typer(no_args_is_help=True, help="Create, list and revoke service tokens.")


def _token_engine(store: str | None):
    from loop.service.tables import create_tables

    from loop.campaign.store import SqlStore

    db = SqlStore(store or default_store_url())
    create_tables(db.engine)
    return db.engine


@token_app.command("create")
def token_create(
    role: str = typer.Option(..., help="viewer (reads), operator (steers) or lab (fetches "
                             "work, posts results)"),
    name: Optional[str] = typer.Option(None, help="who holds it (shown in the audit trail)"),
    campaign: Optional[list[str]] = typer.Option(
        None, help="for a lab token: a campaign it may use (repeat; default: all)"),
    store: Optional[str] = typer.Option(None, help="SQLAlchemy URL of the store"),
) -> None:
    """Create a token and print it once (the store keeps only its hash)."""
    from loop.service.tables import Role, create_token

    if role not in {r.value for r in Role}:
        raise UserError(f"--role must be one of {', '.join(r.value for r in Role)}, not '{role}'")
    record, secret = create_token(_token_engine(store), role, name or f"{role}-token",
                                  campaigns=campaign or None)
    from loop.run.cli import errors

    errors.print(f"token {record.id} '{record.name}' ({record.role}); it is shown only now:")
    print(secret)


@token_app.command("list")
def token_list(store: Optional[str] = typer.Option(None, help="SQLAlchemy URL of the store")
               ) -> None:
    """List tokens (never their secrets)."""
    from loop.service.tables import list_tokens

    found = list_tokens(_token_engine(store))
    if not found:
        _console().print("no tokens yet: loopwell token create --role operator --name NAME")
    for t in found:
        state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "live"
        scope = f", campaigns {', '.join(t.campaigns)}" if t.campaigns else ""
        _console().print(f"{t.id}: {t.name} ({t.role}{scope}), created "
                      f"{t.created_at:%Y-%m-%d %H:%M}, {state}")


@token_app.command("revoke")
def token_revoke(
    token: str = typer.Argument(..., help="the token's id or name"),
    store: Optional[str] = typer.Option(None, help="SQLAlchemy URL of the store"),
) -> None:
    """Revoke tokens by id or name: the service refuses them from the next call on."""
    from loop.service.tables import revoke_token

    n = revoke_token(_token_engine(store), token)
    if not n:
        raise UserError(f"no live token '{token}' (loopwell token list)")
    _console().print(f"revoked {n} token(s)")




def register(app: typer.Typer) -> None:
    """Add `serve` and the `token` group to the main command line."""
    app.command()(serve)
    app.add_typer(token_app, name="token")
