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
- `lat_q90`: only the latent variance rescaled;
- `het_q90`: variance growing with the predicted level: log(LOO residual^2 /
  LOO variance) regressed on the LOO mean gives `h(m) = exp(b (m - mean m))`,
  intervals `(latent + noise) h(m)` times the q90 factor of the rescaled z;
- `w_q90`: the q90 factor weighted towards the unmeasured genes (weights = the
  pool's share / the measured share of genes in each decile of predicted mean:
  conformal calibration under covariate shift, Tibshirani et al. 2019).

`cur` (latent times mean(z^2)) equals `none` up to a factor that the marginal
likelihood drives to ~1. Usage:

    python benchmarks/screen_calibration.py IFNG essential [ARM OPTIONS, e.g. priors=others]
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
extra = "," + sys.argv[3] if len(sys.argv) > 3 else ""
arm = parse_arm(f"linear:ucb:beta=0.25,initial={init},calibrate=variance{extra}")
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
    loo_mean = (m._yn.squeeze(-1) - a / d).numpy()  # normalised units
    asked = {e.candidate_id for e in store.experiments(spec.name)}
    rows = [i for i, c in enumerate(campaign.design.ids) if c not in asked and c in truth]
    mean, lat = m.predict_moments(torch.from_numpy(campaign.design.X[rows]).double())
    lat = lat / m.calibration_scale
    noise = m.noise_variance
    y = campaign.target(np.array([truth[campaign.design.ids[i]] for i in rows]))
    mean = mean.numpy(); lat = lat.numpy()
    pool_m = (mean - m._y_mean) / m._y_sd
    b = np.polyfit(loo_mean, np.log(z**2 + 1e-8), 1)[0]
    centre = loo_mean.mean()
    h = lambda mm: np.exp(b * (mm - centre))
    edges = np.quantile(np.concatenate([pool_m, loo_mean]), np.linspace(0, 1, 11))[1:-1]
    pool_share = np.bincount(np.digitize(pool_m, edges), minlength=10) / len(pool_m)
    meas_share = np.bincount(np.digitize(loo_mean, edges), minlength=10) / len(loo_mean)
    w = (pool_share / np.maximum(meas_share, 1e-12))[np.digitize(loo_mean, edges)]
    order = np.argsort(np.abs(z)); cw = np.cumsum(w[order]) / w.sum()
    wq = (np.abs(z)[order][np.searchsorted(cw, 0.9)] / 1.6449) ** 2
    def cov(v): return np.mean(np.abs(y-mean) <= 1.6449*np.sqrt(v))
    q = lambda zz: (np.quantile(np.abs(zz), 0.9)/1.6449)**2
    out = {"cur": cov(lat*m.calibration_scale+noise), "none": cov(lat+noise),
           "tot_meanz2": cov((lat+noise)*np.mean(z**2)), "tot_q90": cov((lat+noise)*q(z)),
           "tot_q90_r0": cov((lat+noise)*q(z[is0])),
           "tot_med": cov((lat+noise)*(np.median(np.abs(z))/0.6745)**2),
           "lat_q90": cov(lat*q(z)+noise),
           "het_q90": cov((lat+noise)*h(pool_m)*q(z/np.sqrt(h(loo_mean)))),
           "w_q90": cov((lat+noise)*wq)}
    print(screen, init, r, f"scale={m.calibration_scale:.2f} meanz2={np.mean(z**2):.2f} "
          f"q={q(z):.2f} q0={q(z[is0]):.2f}", {k: round(float(v), 3) for k, v in out.items()},
          flush=True)
campaign = Campaign(spec, store, state_dir=Path(tmp), compute="local", hook=hook)
truth = lookup_table(spec, None)
campaign.run()
