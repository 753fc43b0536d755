"""SIGReg: Sketched Isotropic Gaussian Regulariser.

For latents Z of shape (T, B, D) (each time step is tested on its own batch of B samples):

1. draw M directions u_m ~ N(0, I_D), normalised to unit length (fresh on every call);
2. project: h = Z u  -> (T, B, M) one-dimensional samples;
3. Epps–Pulley statistic of each projection against N(0, 1):

       EP = B * ∫ w(t) |φ̂_B(t) − φ(t)|² dt,   φ̂_B(t) = mean_b exp(i t h_b),  φ(t) = exp(−t²/2),
       w(t) = exp(−t²/2),   |φ̂ − φ|² = (mean_b cos(t h_b) − φ(t))² + (mean_b sin(t h_b))².

   The integrand is even in t, so we integrate on [0, t_max] only, with trapezoid weights
   doubled, which covers [−t_max, t_max];
4. average over projections and time steps.

No standardisation of h: the target is exactly N(0, 1), so shifted, scaled or collapsed latents
all score high. By Cramér–Wold, matching every 1-D projection means Z is isotropic Gaussian.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch

from . import _api_checks as chk

T_MAX_HI = 100.0
"""The largest ``t_max`` (as ``SIGRegConfig.t_max``): beyond it the knots undersample cos(t h) and the
statistic reads 0, a perfect Gaussian score, whatever the latents."""


NUM_PROJ_HI, KNOTS_HI = 1 << 20, 1000
"""The most projections and knots (as ``SIGRegConfig.num_proj`` / ``.knots``): 10**12 projections was an
allocator error of 12 TB."""
MAX_PASS_BYTES = 16 << 30
"""The most memory one (T, B, num_proj, knots) tensor of the Epps-Pulley pass may take (the pass holds about
three of them): a larger one is refused with the estimate before anything is allocated."""


def _whole(name: str, value, lo: int, why: str = "", hi: int | None = None) -> int:
    """A whole number >= lo (numpy integers too; a bool is refused, as in the configs), <= hi when given."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"SIGReg {name} must be a whole number >= {lo}{why}, got {value!r:.60}")
    if value < lo:
        raise ValueError(f"SIGReg {name} must be a whole number >= {lo}{why}, got {value!r}")
    if hi is not None and value > hi:
        raise ValueError(f"SIGReg {name} must be <= {hi:_} (as SIGRegConfig.{name}), got {value!r}")
    return int(value)


def _pass_memory(fn: str, rows: int, num_proj: int, knots: int, itemsize: int) -> None:
    """Refuse an Epps-Pulley pass whose (rows, num_proj, knots) tensor would not fit, before allocating (pure
    integer arithmetic on shapes: no device sync)."""
    need = rows * num_proj * knots * itemsize
    if need > MAX_PASS_BYTES:
        raise ValueError(f"{fn}: {rows:_} latents x num_proj={num_proj:_} x knots={knots} need about "
                         f"{3 * need / 2**30:.1f} GiB for the Epps-Pulley pass (each (T, B, num_proj, knots) tensor "
                         f"over {MAX_PASS_BYTES >> 30} GiB); use fewer projections or fewer latents")


def _floating(fn: str, z: torch.Tensor, name: str = "latents") -> None:
    if not z.is_floating_point():  # int64 was "normal_kernel_cpu" not implemented for 'Long'
        raise TypeError(f"{fn} expects floating-point {name}, got {z.dtype} (convert with .float())")


def _generator(fn: str, generator) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):  # numpy's: no attribute 'device'
        kind = type(generator).__module__.split(".")[0] + " " + type(generator).__name__
        raise TypeError(f"{fn}(generator=...) must be a torch.Generator or None, got {kind.strip()}")



def random_directions(dim: int, num_proj: int, *, device=None, dtype=torch.float32,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """M unit directions in R^D as the columns of a (D, M) matrix."""
    _generator("random_directions", generator)
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):  # int64: "normal_kernel_cpu" not implemented
        raise TypeError(f"random_directions(dtype=...) must be a floating dtype (e.g. torch.float32), got {dtype!r:.60}")
    if device is not None and not (isinstance(device, torch.device) and device.type == "cpu"):
        device = chk.device("random_directions", device, "device")  # "cuda" without CUDA: torch's AssertionError
    return _directions(dim, num_proj, device=device, dtype=dtype, generator=generator)


def _directions(dim: int, num_proj: int, *, device, dtype, generator) -> torch.Tensor:
    num_proj = _whole("num_proj", num_proj, 1, hi=NUM_PROJ_HI)  # True was 1 projection
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 1:  # 0: directions of NaN norm
        raise ValueError(f"SIGReg directions need a latent dimension (dim) >= 1, got {dim!r}")
    gen_device = generator.device if generator is not None else device
    u = torch.randn(dim, num_proj, generator=generator, device=gen_device, dtype=dtype)  # (D, M)
    u = u.to(device)
    return u / u.norm(dim=0, keepdim=True)  # (D, M)


def quadrature(knots: int, t_max: float, *, device=None, dtype=torch.float32):
    """Knots t (K,), the N(0,1) characteristic function φ(t) (K,) and weights (K,) with w(t) folded in."""
    knots = _whole("knots", knots, 2, " (the trapezoid rule needs two ends)", hi=KNOTS_HI)
    if isinstance(t_max, bool) or not isinstance(t_max, numbers.Real):
        raise TypeError(f"SIGReg t_max must be a number, got {t_max!r:.60}")
    if not (math.isfinite(t_max) and 0 < t_max <= T_MAX_HI):  # inf gave NaN, 1e9 a perfect score (0)
        raise ValueError(f"SIGReg t_max must be > 0 and at most {T_MAX_HI:g}, finite (as SIGRegConfig.t_max: the "
                         f"integral over [0, t_max] is 0 at 0, and beyond {T_MAX_HI:g} the knots miss the statistic), "
                         f"got {t_max!r}")
    t_max = float(t_max)
    t = torch.linspace(0.0, t_max, knots, device=device, dtype=dtype)  # (K,)
    dt = t_max / (knots - 1)
    trap = torch.full((knots,), 2.0 * dt, device=device, dtype=dtype)  # doubled: even integrand
    trap[0] = trap[-1] = dt
    phi = torch.exp(-0.5 * t**2)  # (K,)
    return t, phi, trap * phi  # weight includes w(t) = φ(t)


def epps_pulley(h: torch.Tensor, knots: int = 17, t_max: float = 3.0) -> torch.Tensor:
    """Epps–Pulley statistic of 1-D samples against N(0,1).

    h: (..., B, M) samples along dim -2. Returns (..., M) statistics (already multiplied by B).
    """
    _check_tensor(h, "epps_pulley expects a torch tensor of samples (..., B, M)")
    if h.dim() < 2 or h.shape[-2] < 1:  # a 1-D tensor was an IndexError (use h[:, None] for one projection)
        raise ValueError(f"epps_pulley expects samples of shape (..., B, M) with B >= 1 (one column per "
                         f"projection; h[:, None] for a single one), got {tuple(h.shape)}")
    _floating("epps_pulley", h, "samples")
    n = h.shape[-2]
    _pass_memory("epps_pulley", h.shape[:-1].numel(), h.shape[-1], _whole("knots", knots, 2, hi=KNOTS_HI),
                 h.element_size())
    t, phi, w = quadrature(knots, t_max, device=h.device, dtype=h.dtype)
    x = h.unsqueeze(-1) * t  # (..., B, M, K)
    cos_m = torch.cos(x).mean(dim=-3)  # (..., M, K)
    sin_m = torch.sin(x).mean(dim=-3)  # (..., M, K)
    err = (cos_m - phi) ** 2 + sin_m**2  # (..., M, K)
    return n * (err * w).sum(dim=-1)  # (..., M)


def _check_tensor(z, what: str = "SIGReg expects a torch tensor of latents") -> None:
    if not isinstance(z, torch.Tensor):  # a numpy array was "'str' object has no attribute 'type'"
        raise TypeError(f"{what}, got {type(z).__name__} (convert with torch.as_tensor(z, dtype=torch.float32))")
    if z.is_complex():  # the imaginary part was dropped with only torch's warning
        raise TypeError(f"{what} of real floats, got dtype {z.dtype}")
    if z.is_meta:  # was "unsupported scalarType"
        raise ValueError(f"{what} holding values, got one on the meta device (shapes only); move it to 'cpu' or "
                         f"'cuda' first")


def _as_tbd(z: torch.Tensor) -> torch.Tensor:
    _check_tensor(z)
    if z.dim() == 2:
        z = z.unsqueeze(0)  # (1, B, D)
    if z.dim() != 3:
        raise ValueError(f"SIGReg expects latents of shape (T, B, D) or (B, D), got {tuple(z.shape)}")
    if z.shape[1] < 1 or z.shape[2] < 1:
        raise ValueError(f"SIGReg needs at least one latent of at least one dimension, got shape {tuple(z.shape)}")
    return z


@dataclass
class SIGRegStats:
    """Everything a live 'projection histogram vs N(0,1)' view needs."""

    value: torch.Tensor
    """Scalar SIGReg loss (mean over time steps and projections)."""
    statistic: torch.Tensor
    """(T, M) Epps–Pulley statistic of each projection at each time step."""
    projections: torch.Tensor
    """(T, B, M) the 1-D projected samples."""
    directions: torch.Tensor
    """(D, M) unit directions used."""


def _refuse_nonfinite(z: torch.Tensor) -> None:
    """A measurement of NaN/inf latents would be NaN without a word: one line instead."""
    bad = ~torch.isfinite(z)
    if bool(bad.any()):
        raise ValueError(f"SIGReg: the latents hold {int(bad.sum())} NaN/inf values of {z.numel()} "
                         f"(shape {tuple(z.shape)}); check the encoder's weights or the frames")


def sigreg_stats(z: torch.Tensor, num_proj: int = 1024, knots: int = 17, t_max: float = 3.0,
                 generator: torch.Generator | None = None, *, check_finite: bool = True) -> SIGRegStats:
    """SIGReg with its per-projection statistics and the projections themselves. NaN/inf latents are
    refused (``check_finite``) unless the caller guards the result itself, as training does."""
    z = _as_tbd(z)  # (T, B, D)
    _generator("sigreg_stats", generator)
    _floating("sigreg_stats", z)
    _pass_memory("sigreg_stats", z.shape[:-1].numel(), _whole("num_proj", num_proj, 1, hi=NUM_PROJ_HI),
                 _whole("knots", knots, 2, " (the trapezoid rule needs two ends)", hi=KNOTS_HI), z.element_size())
    if check_finite:
        _refuse_nonfinite(z)
    u = _directions(z.shape[-1], num_proj, device=z.device, dtype=z.dtype, generator=generator)
    h = z @ u  # (T, B, M)
    stat = epps_pulley(h, knots, t_max)  # (T, M)
    return SIGRegStats(value=stat.mean(), statistic=stat, projections=h, directions=u)


def sigreg(z: torch.Tensor, num_proj: int = 1024, knots: int = 17, t_max: float = 3.0,
           generator: torch.Generator | None = None, *, check_finite: bool = True) -> torch.Tensor:
    """SIGReg loss (scalar) of latents (T, B, D) or (B, D). Differentiable; see module docstring.
    Always fp32, also inside a caller's bf16 autocast (which would otherwise run the projection
    matmul and the statistic in bf16: the NaN spikes users of the official code hit).

    ``check_finite``: refuse NaN/inf latents with one line. The training loss turns it off: the
    check reads the tensor back (a device sync per step), and the trainer already stops on a
    non-finite loss, naming the last finite checkpoint."""
    _check_tensor(z)
    _generator("sigreg", generator)
    _floating("sigreg", z)  # int / bool latents were cast and scored (sigreg_stats refused them: round 29)
    with torch.autocast(z.device.type, enabled=False):
        z = _as_tbd(z.float())
        return sigreg_stats(z, num_proj, knots, t_max, generator, check_finite=check_finite).value
