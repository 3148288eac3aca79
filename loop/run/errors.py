"""What the command line says when something goes wrong: one line and an exit code per class.

Bad input (a campaign file, a table, a name) exits 2, a lab that fails or
refuses exits 3, a store that cannot be opened or written exits 4, a campaign
that another run holds exits 5, Ctrl-C exits 130. `--debug` (or
`LOOPWELL_DEBUG=1`) shows the traceback as well.
"""

from __future__ import annotations

import os
import re
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    UNEXPECTED = 1
    BAD_INPUT = 2
    LAB = 3
    STORE = 4
    BUSY = 5
    INTERRUPTED = 130


class UserError(Exception):
    """An error the command line reports as one line with its own exit code."""

    code = ExitCode.BAD_INPUT


def is_debug() -> bool:
    return os.environ.get("LOOPWELL_DEBUG", "").lower() in ("1", "true", "yes")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0].strip()


def _mask(text: str) -> str:
    """Hide a password written in a URL (`scheme://user:PASSWORD@host`)."""
    return re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1***@", text)


def explain(exc: BaseException) -> tuple[ExitCode, str]:
    """Return the exit code and the one line to print for an exception."""
    from adapters import LabError
    from loop.campaign.spec import SpecError
    from loop.campaign.store.base import CampaignBusy, StoreError

    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED, ("interrupted; nothing measured is lost: run the same "
                                      "command again to resume")
    if isinstance(exc, SpecError):  # a line per bad field, at most a few
        lines = str(exc).strip().splitlines()
        more = [f"  ... and {len(lines) - 9} more"] if len(lines) > 9 else []
        return ExitCode.BAD_INPUT, "\n".join(lines[:9] + more)
    if isinstance(exc, UserError):
        return exc.code, _mask(_first_line(exc))
    if isinstance(exc, CampaignBusy):
        return ExitCode.BUSY, _first_line(exc)
    if isinstance(exc, LabError):
        return ExitCode.LAB, (f"the lab failed: {_mask(_first_line(exc))}; what was sent stays "
                              "recorded, run again when the lab answers")
    store = _store_problem(exc)
    if store is not None:
        return ExitCode.STORE, store
    if isinstance(exc, StoreError):
        return ExitCode.STORE, f"store: {_mask(_first_line(exc))}"
    if isinstance(exc, (ValueError, FileNotFoundError, KeyError, IsADirectoryError,
                        PermissionError, UnicodeDecodeError)):
        text = exc.args[0] if isinstance(exc, KeyError) and exc.args else _first_line(exc)
        return ExitCode.BAD_INPUT, _mask(str(text))
    return ExitCode.UNEXPECTED, (f"unexpected error: {type(exc).__name__}: "
                                 f"{_mask(_first_line(exc))} (run with --debug for the traceback)")


def _store_problem(exc: BaseException) -> str | None:
    """Say what is wrong with a store URL or database, if that is what `exc` is about."""
    try:
        from sqlalchemy import exc as sa
    except ImportError:  # pragma: no cover
        return None
    hint = "check --store / LOOPWELL_STORE"
    if isinstance(exc, sa.ArgumentError):
        return f"store: not a database URL ({_mask(_first_line(exc))}); {hint}"
    if isinstance(exc, sa.NoSuchModuleError):
        return f"store: {_first_line(exc)}; {hint}"
    if isinstance(exc, ModuleNotFoundError) and exc.name in ("psycopg", "psycopg2", "pymysql"):
        return (f"store: the database driver '{exc.name}' is not installed; "
                "pip install 'loopwell[postgres]'")
    if isinstance(exc, sa.DBAPIError):
        detail = _mask(_first_line(exc.orig if exc.orig is not None else exc))
        if "readonly" in detail or "read-only" in detail:
            return f"store: the database is read-only ({detail}); {hint}"
        if "not a database" in detail or "malformed" in detail:
            return f"store: the file is not a loopwell store or is damaged ({detail}); {hint}"
        return f"store: cannot use the database ({detail}); {hint}"
    if isinstance(exc, sa.SQLAlchemyError):
        return f"store: {_mask(_first_line(exc))}; {hint}"
    return None
