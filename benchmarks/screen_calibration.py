"""Coverage of 90% intervals on the genes not yet measured, under several calibration rules.

One campaign of the given screen and round-0 rule (seed 0, 5 x 128, UCB beta
0.25); after each fit, the same fitted model's intervals over the unmeasured
genes are scored under each rule (truth from the published screen):

- `cur`: the old default, `calibrate="variance"` (the campaign runs with it);
- `none`: latent + noise variance, no rescaling;
- `tot_meanz2`: latent + noise times mean(z^2) of the LOO z-scores;
- `tot_q90`: latent + noise times (q90(|z|) / 1.645)^2 (= `calibrate="quantile"`);
- `tot_q90_r0`: the same factor, from round 0's genes only;
- `tot_med`: matched on the median |z| instead;
- `lat_q90`: only the latent variance rescaled.

`cur` (latent times mean(z^2)) equals `none` up to a factor that the marginal
likelihood drives to ~1. Usage:

    python benchmarks/screen_calibration.py IFNG essential
"""
import sys
import tempfile

import numpy as np
import torch

from pathlib import Path

from loop.bench.screen import parse_arm, screen_spec
from loop.campaign import Campaign
from loop.run.lab import lookup_table
from loop.campaign.spec import parse_spec
from loop.campaign.store import SqlStore

torch.set_num_threads(1)
screen, init = sys.argv[1], sys.argv[2]
table = f"data:screens/ground_truth_{screen}.csv"; hits=f"data:screens/topmovers_{screen}.npy"
arm = parse_arm(f"linear:ucb:beta=0.25,initial={init},calibrate=variance")
spec = parse_spec(screen_spec(screen, table, hits, arm, 0, 5, 128))
tmp = tempfile.mkdtemp()
store = SqlStore(f"sqlite:///{tmp}/b.db")
def hook(step, r, info):
    if step != "fit": return
    m = campaign.host._target.model
    X, Y, ids = campaign.training_data()
    r0 = {e.candidate_id for e in store.experiments(spec.name, round=0)}
    is0 = np.array([i in r0 for i in ids])
    L = m._L
    d = torch.cholesky_inverse(L).diagonal()
    a = torch.cholesky_solve(m._yn, L).squeeze(-1)
    z = (a / d.sqrt()).numpy()  # loo residual / loo sd (noisy)
    asked = {e.candidate_id for e in store.experiments(spec.name)}
    rows = [i for i, c in enumerate(campaign.design.ids) if c not in asked and c in truth]
    mean, lat = m.predict_moments(torch.from_numpy(campaign.design.X[rows]).double())
    lat = lat / m.calibration_scale
    noise = m.noise_variance
    y = campaign.target(np.array([truth[campaign.design.ids[i]] for i in rows]))
    mean = mean.numpy(); lat = lat.numpy()
    def cov(v): return np.mean(np.abs(y-mean) <= 1.6449*np.sqrt(v))
    q = lambda zz: (np.quantile(np.abs(zz), 0.9)/1.6449)**2
    out = {"cur": cov(lat*m.calibration_scale+noise), "none": cov(lat+noise),
           "tot_meanz2": cov((lat+noise)*np.mean(z**2)), "tot_q90": cov((lat+noise)*q(z)),
           "tot_q90_r0": cov((lat+noise)*q(z[is0])),
           "tot_med": cov((lat+noise)*(np.median(np.abs(z))/0.6745)**2),
           "lat_q90": cov(lat*q(z)+noise)}
    print(screen, init, r, f"scale={m.calibration_scale:.2f} meanz2={np.mean(z**2):.2f} "
          f"q={q(z):.2f} q0={q(z[is0]):.2f}", {k: round(float(v), 3) for k, v in out.items()},
          flush=True)
campaign = Campaign(spec, store, state_dir=Path(tmp), compute="local", hook=hook)
truth = lookup_table(spec, None)
campaign.run()
