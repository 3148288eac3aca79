"""A small client of the service, for the command line's `--server` mode (httpx)."""

from __future__ import annotations

from typing import Any

import httpx


class ServiceError(RuntimeError):
    """The service refused a call; the message is its `detail`."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"the service answered {status}: {detail}")
        self.status = status


class ServiceClient:
    """Talk to `loopwell serve` at `url` with a bearer token.

    Args:
        url: the service's base URL, e.g. `http://127.0.0.1:8000`.
        token: a token from `loopwell token create`.
        transport: an httpx transport (tests pass an `httpx.ASGITransport` or a mock).
    """

    def __init__(self, url: str, token: str, *, transport: httpx.BaseTransport | None = None,
                 timeout_s: float = 30.0) -> None:
        self._http = httpx.Client(base_url=url.rstrip("/"), transport=transport,
                                  timeout=timeout_s,
                                  headers={"Authorization": f"Bearer {token}"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "ServiceClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ServiceError(0, f"cannot reach {self._http.base_url}: {exc}") from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ServiceError(response.status_code, str(detail))
        return response.json()

    def campaigns(self) -> list[dict[str, Any]]:
        return self._call("GET", "/campaigns")

    def campaign(self, name: str) -> dict[str, Any]:
        return self._call("GET", f"/campaigns/{name}")

    def proposals(self, name: str, state: str | None = None) -> list[dict[str, Any]]:
        return self._call("GET", f"/campaigns/{name}/proposals",
                          params={"state": state} if state else None)

    def approve(self, name: str, experiment_ids: list[str] | None = None) -> list[str]:
        body = {"experiment_ids": experiment_ids} if experiment_ids is not None else None
        return self._call("POST", f"/campaigns/{name}/proposals/approve", json=body)["approved"]

    def post_results(self, name: str, results: list[dict[str, Any]]) -> dict[str, Any]:
        response = self._http.post(f"/campaigns/{name}/results", json=results)
        if response.status_code not in (200, 422) or "items" not in response.json():
            raise ServiceError(response.status_code, response.text)
        return response.json()
