"""A separable quadratic with a known minimum, shared by the planning solver tests."""
import numpy as np
import torch


P, K = 4, 3
TARGET = torch.tensor(np.random.default_rng(0).uniform(-0.8, 0.8, size=(P, K)), dtype=torch.float32)
WEIGHT = torch.linspace(0.5, 2.0, P * K).view(P, K)


def quadratic(a: torch.Tensor) -> torch.Tensor:
    return ((a - TARGET) ** 2 * WEIGHT).sum(dim=(1, 2))  # (N,)
