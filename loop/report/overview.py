"""A campaign at a glance, as JSON-able data: for `status --json`, exports and the service."""

from __future__ import annotations

from typing import Any

from loop.campaign.store import Store


def campaign_overview(store: Store, name: str) -> dict[str, Any]:
    """Return a campaign's status, rounds, experiment counts by state and rejected inputs.

    Raises:
        KeyError: for an unknown campaign.
    """
    record = store.campaign(name)
    if record is None:
        raise KeyError(f"no campaign '{name}'")
    rejected = store.rejected(name)
    return {
        "name": name,
        "status": record.status,
        "description": record.spec.get("description", ""),
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
        "budget": record.spec.get("budget", {}),
        "n_measurements": store.count_measurements(name),
        "experiments": dict(sorted(store.count_experiments(name).items())),
        "rounds": [r.to_json() for r in store.rounds(name)],
        "n_rejected": len(rejected),
        "last_rejected": rejected[-1].reason if rejected else None,
    }
