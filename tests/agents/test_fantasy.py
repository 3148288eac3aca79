import torch

from agents.fantasy import ExactFantasy, Fantasy, _anomalies, _rank_one_update


def _covariance(m: int = 6) -> torch.Tensor:
    x = torch.linspace(0, 1, m, dtype=torch.float64)
    return torch.exp(-((x[:, None] - x[None, :]) ** 2) / 0.1) + 1e-6 * torch.eye(m)


def test_rank_one_updates_equal_exact_conditioning():
    C, noise, observed = _covariance(), 0.01, [1, 4, 2]
    F0 = torch.linalg.cholesky(C).T.contiguous()  # F0^T F0 = C exactly
    U, V = torch.zeros(6, 3, dtype=torch.float64), torch.zeros(6, 3, dtype=torch.float64)
    variance = C.diagonal().clone()
    for k, j in enumerate(observed):
        assert _rank_one_update(F0, U, V, k, variance, j, noise, floor=1e-12)
    K = C[observed][:, observed] + noise * torch.eye(3, dtype=torch.float64)
    exact = C - C[:, observed] @ torch.linalg.solve(K, C[observed])
    assert torch.allclose(variance, exact.diagonal(), atol=1e-9)
    F = (torch.eye(6, dtype=torch.float64) - U @ V.T) @ F0
    assert torch.allclose(F.T @ F, exact, atol=1e-9)


def test_anomalies_rescale_to_exact_variances():
    samples = torch.randn(50, 4, dtype=torch.float64)
    variance = torch.tensor([1.0, 2.0, 0.5, 0.0], dtype=torch.float64)
    F = _anomalies(samples, variance)
    assert torch.allclose((F * F).sum(0), variance)


def test_fantasy_shrinks_a_duplicate_and_spares_an_independent_point():
    z = torch.randn(400, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    samples = torch.stack([z[:, 0], z[:, 0], z[:, 1]], dim=1)  # 0 and 1 duplicates
    fantasy = Fantasy(samples, torch.ones(3, dtype=torch.float64), noise=1e-4)
    fantasy.condition(0)
    assert fantasy.variance[1] < 1e-3
    assert fantasy.variance[2] > 0.9
    assert (fantasy.variance > 0).all()


def test_exact_fantasy_equals_exact_conditioning():
    C, noise, observed = _covariance(8), 0.01, [1, 6, 2, 5]
    fantasy = ExactFantasy(lambda j: C[:, j].clone(), C.diagonal().clone(), noise)
    for j in observed:
        fantasy.condition(j)
    K = C[observed][:, observed] + noise * torch.eye(4, dtype=torch.float64)
    exact = C - C[:, observed] @ torch.linalg.solve(K, C[observed])
    assert torch.allclose(fantasy.variance, exact.diagonal().clamp_min(fantasy.floor), atol=1e-10)
    L = torch.stack(fantasy.factors, 1)
    assert torch.allclose(C - L @ L.T, exact, atol=1e-10)  # covariances too, not just variances
