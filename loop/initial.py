"""Round 0: the batch chosen before any measurement, without a model.

A pure function of the candidates' prior flag (e.g. core essential genes) and
a seed, so the campaign calls it in one line. `mixed` is the default of gene
campaigns: a share of flagged candidates beside a random sample of the rest,
so the first fit sees both and learns from the campaign's own data whether the
flag marks hits (its kernel block gets a large scale) or not (a small one).
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: share of round 0 given to flagged candidates by `mixed`
ESSENTIAL_SHARE = 0.25


def propose_initial(name: str, flags: np.ndarray, q: int, seed: int,
                    share: float = ESSENTIAL_SHARE) -> dict[str, Any]:
    """Choose a batch of `q` free candidates without a model.

    Args:
        name: `random`; `essential` (flagged candidates first, at random, then
            the rest at random); or `mixed` (`round(share * q)` flagged
            candidates at random, the rest of the batch from the unflagged).
        flags: `n` booleans, the prior flag of each free candidate.
        q: batch size (at most `n`).
        seed: seed of the random draws.
        share: the flagged share of a `mixed` batch, in [0, 1].

    Returns:
        `indices`: `q` distinct indices into `flags`.
    """
    rng = np.random.default_rng(seed)
    flags = np.asarray(flags, dtype=bool)
    n = len(flags)
    if name == "random":
        return {"indices": rng.choice(n, size=q, replace=False)}
    if name not in ("essential", "mixed"):
        raise ValueError(f"no model yet: strategy must be 'random', 'essential' or 'mixed', "
                         f"got '{name}'")
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be in [0, 1], got {share}")
    n_first = q if name == "essential" else int(round(share * q))
    first = rng.permutation(np.flatnonzero(flags))[:n_first]
    others = np.flatnonzero(~flags) if name == "mixed" else np.arange(n)
    rest = np.setdiff1d(others, first)
    fill = rng.choice(rest, size=min(q - len(first), len(rest)), replace=False)
    short = q - len(first) - len(fill)
    if short > 0:  # too few unflagged candidates: more flagged ones
        more = rng.choice(np.setdiff1d(np.arange(n), np.concatenate([first, fill])), size=short,
                          replace=False)
        fill = np.concatenate([fill, more])
    return {"indices": np.concatenate([first, fill]).astype(np.int64)}
