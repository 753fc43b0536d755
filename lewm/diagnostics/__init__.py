"""Diagnostics: make the latent space visible.

Pure functions (arrays or tensors in, small dataclasses of numpy arrays out; no plotting) shared
by the app and by ``python -m lewm report``, one instrument per module:

1. :mod:`.projections`   :func:`sigreg_view`: random 1-D projections of the latents vs N(0, 1);
2. :mod:`.collapse`      :func:`collapse_meters`: covariance spectrum, effective rank, mean cosine;
   :func:`collapse_verdict`: collapsed or not, with one line why;
   :mod:`.examples`      :func:`demo_latents`: example clouds for explaining SIGReg;
3. :mod:`.latent_map`    :func:`fit_latent_map`: 2-D PCA / UMAP map with ``.transform``;
   :mod:`.encoding`      :func:`encode_frames`, :func:`encode_dataset`: latents + true state of a file;
4. :mod:`.probes`        :func:`probe`, :func:`probe_spread`: held-out R² and Pearson r, split by episode;
5. :mod:`.dynamics`      :func:`open_loop_dynamics`, :func:`open_loop_sweep`, :func:`temporal_straightness`;
6. :mod:`.surprise`      :func:`surprise_trace`, :func:`surprise_test` (paired one-sided test),
                         :func:`perturbation_sweep` (one episode, the perturbation moved along it), with
   :mod:`.perturbations` :func:`teleport`, :func:`colour_change`, :func:`render_mismatch`;
7. :mod:`.decoder`       :func:`train_decoder` / :func:`decode` (pixel decoder on detached latents);
   :mod:`.neighbours`    :class:`NearestFrames` (nearest dataset frame by latent L2);
8. :mod:`.landscape`     :func:`goal_cost_landscape` / :func:`landscape_score`: the goal cost vs the
   true distance to go;
9. :mod:`.grid_warp`     :func:`state_grid_warp`: a grid of true states drawn in latent space.

Shape letters: N points, D latent dim, K projections / action-block dim (stated per function),
T time, L raw episode length, S image side, Q state dim, P imagined steps, H predictor history.
"""
from ._common import ArrayLike
from .collapse import CollapseMeters, collapse_meters, collapse_verdict
from .decoder import LatentDecoder, _upsampling_plan, decode, train_decoder  # noqa: F401 (private, read by tests)
from .dynamics import (OpenLoopResult, action_blocks, open_loop_dynamics, open_loop_sweep, sweep_starts,
                       temporal_straightness)
from .examples import demo_latents
from .encoding import EncodedDataset, encode_dataset, encode_frames, encode_frames_both
from .grid_warp import GridWarp, LinearReadout, linear_readout, readout_angle, state_grid_warp
from .landscape import (GoalLandscape, goal_cost_landscape, goal_cost_landscapes, landscape_score,
                        landscape_summary)
from .latent_map import LatentMap, fit_latent_map
from .neighbours import NearestFrames, NearestResult
from .perturbations import (DotRenderer, colour_change, default_teleport_dims, render_mismatch, renderer_for,
                            teleport)
from .probes import ProbeResult, ProbeSpread, pearson_r, probe, probe_spread, r2_score_cols, split_indices
from .projections import SIGRegView, normal_pdf, sigreg_view
from .surprise import (PerturbationTest, PerturbedAt, SurpriseTrace, paired_one_sided, perturbation_sweep,
                       surprise_test, surprise_trace, sweep_frames)

__all__ = [
    "ArrayLike",
    "CollapseMeters", "collapse_meters", "collapse_verdict",
    "demo_latents",
    "LatentDecoder", "decode", "train_decoder",
    "OpenLoopResult", "action_blocks", "open_loop_dynamics", "open_loop_sweep", "sweep_starts", "temporal_straightness",
    "EncodedDataset", "encode_dataset", "encode_frames", "encode_frames_both",
    "GridWarp", "LinearReadout", "linear_readout", "readout_angle", "state_grid_warp",
    "GoalLandscape", "goal_cost_landscape", "goal_cost_landscapes", "landscape_score", "landscape_summary",
    "LatentMap", "fit_latent_map",
    "NearestFrames", "NearestResult",
    "DotRenderer", "colour_change", "default_teleport_dims", "render_mismatch", "renderer_for", "teleport",
    "ProbeResult", "ProbeSpread", "pearson_r", "probe", "probe_spread", "r2_score_cols", "split_indices",
    "SIGRegView", "normal_pdf", "sigreg_view",
    "PerturbationTest", "PerturbedAt", "SurpriseTrace", "paired_one_sided", "perturbation_sweep", "surprise_test",
    "surprise_trace", "sweep_frames",
]
