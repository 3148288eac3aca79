"""Earlier campaigns of the same store as prior knowledge (`prior_screens: [campaign:NAME]`).

A gene campaign may learn from a screen the lab already ran with loopwell: its
measured values (mean over replicates, per gene) become one prior-screen block,
like a published screen's table. The values are taken once, when the new
campaign first starts, and kept in its state folder, so its features do not
shift under it while the earlier campaign goes on.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from pathlib import Path

from adapters._files import write_atomically
from loop.campaign.spec import GeneDesign
from loop.campaign.store import Store

CAMPAIGN_PREFIX = "campaign:"


def campaign_priors(design, store: Store, folder: Path, own: str):
    """Return `design` with every `campaign:NAME` prior replaced by a CSV of its measurements.

    Raises:
        ValueError: the campaign is this one, is not in the store, or has no
            measurements yet.
    """
    if not isinstance(design, GeneDesign) or not design.prior_screens:
        return design
    if not any(ref.startswith(CAMPAIGN_PREFIX) for ref in design.prior_screens):
        return design
    refs = []
    for ref in design.prior_screens:
        if ref.startswith(CAMPAIGN_PREFIX):
            ref = str(_snapshot(ref[len(CAMPAIGN_PREFIX):], store, folder, own))
        refs.append(ref)
    return design.model_copy(update={"prior_screens": refs})


def _snapshot(name: str, store: Store, folder: Path, own: str) -> Path:
    path = folder / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.csv"
    if path.exists():
        return path
    if name == own:
        raise ValueError(f"prior_screens campaign:{name}: that is this campaign, not an "
                         "earlier one")
    record = store.campaign(name)
    if record is None:
        raise ValueError(f"prior_screens campaign:{name}: no campaign '{name}' in this store "
                         f"(campaigns: {', '.join(store.campaign_names()) or 'none'})")
    prefix = record.spec.get("design_space", {}).get("prefix", "KO:")
    values: dict[str, list[float]] = defaultdict(list)
    for m in store.measurements(name):
        gene = m.candidate_id[len(prefix):] if m.candidate_id.startswith(prefix) else \
            m.candidate_id
        values[gene].append(m.value)
    if not values:
        raise ValueError(f"prior_screens campaign:{name}: it has no measurements yet")
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["Gene", "Score"])
    for gene, vs in sorted(values.items()):
        writer.writerow([gene, sum(vs) / len(vs)])
    folder.mkdir(parents=True, exist_ok=True)
    write_atomically(path, text.getvalue())
    return path
