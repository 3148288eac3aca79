"""The campaign service: `loopwell serve`, FastAPI over the campaign store.

`create_app(store)` builds the app: routers per resource (campaigns,
proposals, results, tokens), bearer-token auth with roles (viewer, operator,
lab), an audit trail, and a worker thread that advances campaigns off the
request path. See docs/service.md.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from loop.service.app import create_app

        return create_app
    raise AttributeError(f"module 'loop.service' has no attribute {name!r}")
