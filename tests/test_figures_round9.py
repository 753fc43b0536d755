"""Round 9: a bad argument to a figure builder raises ValueError / TypeError naming the argument,
never an IndexError deep in NumPy / Plotly or a silently wrong chart."""
from types import SimpleNamespace as NS

import numpy as np
import pytest

from lewm import figures as F

nan = float("nan")
img = np.zeros((32, 32, 3), np.uint8)
fr = np.zeros((5, 8, 8, 3), np.uint8)
view = {"histograms": np.ones((3, 10)), "statistic": np.ones(3), "bin_edges": np.linspace(-3, 3, 11),
        "grid": np.linspace(-3, 3, 5), "reference_pdf": np.ones(5), "sigreg": 0.1}
it = dict(Z=np.zeros((4, 2)), costs=np.arange(4.0), elite=np.array([0, 1]), bi=np.zeros((2, 2)), best_cost=0.0,
          imagined=[img, img], real=[img], imagined_labels=["a", "b"], real_labels=["a"])
tr = NS(frames=np.arange(3), error=np.ones(3), at=lambda t: 1.0)


def stop(t):
    return NS(t=t, teleport=None, colour=tr, colour_frame=np.zeros((8, 8, 3), np.uint8), teleport_frame=None)


Lnd = NS(dims=(0, 1), cost=np.zeros((3, 3)), true_dist=np.zeros((3, 3)), xs=np.arange(3), ys=np.arange(3),
         goal=np.zeros(2), spearman=0.5)
s0 = F.ImaginedStart(start=0, frames=np.arange(2), actual_xy=np.zeros((2, 2)), imagined_xy=np.zeros((2, 2)),
                     error=np.ones(2), copy_error=np.ones(2))
px = np.zeros((10, 8, 8, 3), np.uint8)

CASES = [
    ("upscale.*img", lambda: F.upscale(np.zeros((0, 0, 3), np.uint8))),
    ("png_uri.*uint8", lambda: F.png_uri(np.ones((8, 8, 3)) * 0.5)),
    ("png_uri.*uint8", lambda: F.png_uri(np.full((8, 8, 3), 300.0))),
    ("fig_image.*extent", lambda: F.fig_image(img, extent=0)),
    ("fig_image.*extent", lambda: F.fig_image(img, extent=nan)),
    ("fig_image_grid.*rows", lambda: F.fig_image_grid([], [], [])),
    ("row_titles", lambda: F.fig_image_grid([[img, img]], ["a", "b", "c"], ["x"])),
    ("animation_figure.*frames", lambda: F.animation_figure(np.zeros((0, 8, 8, 3), np.uint8))),
    ("animation_figure.*fps", lambda: F.animation_figure(fr, fps=0)),
    ("animation_figure.*fps", lambda: F.animation_figure(fr, fps=-1)),
    ("states", lambda: F.animation_figure(fr, extent=224, states=np.zeros((2, 2)))),
    ("fig_losses.*hist\\['loss'\\]", lambda: F.fig_losses({"step": np.arange(3), "loss": np.arange(10)})),
    ("fig_series.*series\\[0\\]", lambda: F.fig_series([("a", np.arange(3), np.arange(5), "red")], "t")),
    ("fig_sigreg_hist.*cols", lambda: F.fig_sigreg_hist(view, cols=0)),
    ("fig_sigreg_hist.*max_dirs", lambda: F.fig_sigreg_hist(view, max_dirs=0)),
    ("fig_sigreg_hist.*max_dirs", lambda: F.fig_sigreg_hist(view, max_dirs=-1)),
    ("statistic", lambda: F.fig_sigreg_hist(dict(view, statistic=np.ones(1)))),
    ("view lacks", lambda: F.fig_sigreg_hist({"histograms": np.ones((3, 10))})),
    ("bin_edges", lambda: F.fig_sigreg_hist(dict(view, bin_edges=np.ones(1)))),
    ("fig_spectrum.*1-D", lambda: F.fig_spectrum([("a", np.ones((3, 3)), "red")])),
    ("fig_probe_scatter.*names", lambda: F.fig_probe_scatter(NS(names=["x", "y", "z"], pearson=[1, 2, 3],
                                                                 targets=np.zeros((5, 2)), predictions=np.zeros((5, 2))))),
    ("fig_probes.*names", lambda: F.fig_probes([("a", NS(names=["x"], pearson=np.ones(2), r2=np.ones(2)))])),
    ("fig_open_loop_error.*steps", lambda: F.fig_open_loop_error(np.arange(3), np.arange(5), np.arange(2))),
    ("fig_map_trajectories.*coords", lambda: F.fig_map_trajectories(np.zeros(5), np.zeros((3, 2)), np.zeros((3, 2)))),
    ("actual, imagined", lambda: F.fig_map_trajectories(np.zeros((5, 2)), np.zeros((3, 2)), np.zeros((7, 2)))),
    ("threshold", lambda: F.fig_failure_path(NS(cost=[1, 2], distance=[1, 2], stuck_step=0, kind="x"), nan)),
    ("stuck_step", lambda: F.fig_failure_path(NS(cost=[1, 2], distance=[1, 2], stuck_step=99, kind="x"), 1.0)),
    ("failure.distance", lambda: F.fig_failure_path(NS(cost=[1, 2], distance=[1, 2, 3], stuck_step=0, kind="x"), 1.0)),
    ("fig_latent_map.*colour", lambda: F.fig_latent_map(np.zeros((5, 2)), np.zeros(3), "c")),
    ("fig_latent_map.*coords", lambda: F.fig_latent_map(np.zeros((5, 1)), np.zeros(5), "c")),
    ("point_hover.*state_names", lambda: F.point_hover(np.zeros(5), np.zeros(5), np.zeros((5, 2)), ["a"])),
    ("fig_click_canvas.*grid", lambda: F.fig_click_canvas(img, np.zeros(4), [1, 2], 224)),
    ("fig_click_canvas.*goal", lambda: F.fig_click_canvas(img, np.zeros((4, 2)), [1], 224)),
    ("fig_click_canvas.*goal", lambda: F.fig_click_canvas(img, np.zeros((4, 2)), [nan, nan], 224)),
    ("fig_goal_distance.*threshold", lambda: F.fig_goal_distance([1, 2], nan)),
    ("fig_cem_iterations.*iterations", lambda: F.fig_cem_iterations(np.zeros((3, 2)), [], np.zeros((1, 2)), np.zeros((1, 2)))),
    ("elite", lambda: F.fig_cem_iterations(np.zeros((3, 2)), [dict(it, elite=[10])], np.zeros((1, 2)), np.zeros((1, 2)))),
    ("start", lambda: F.fig_cem_iterations(np.zeros((3, 2)), [it], np.zeros(2), np.zeros(2))),
    ("imagined", lambda: F.fig_cem_iterations(np.zeros((3, 2)), [dict(it, imagined=[])], np.zeros((1, 2)), np.zeros((1, 2)))),
    ("lacks", lambda: F.fig_cem_iterations(np.zeros((3, 2)), [{"Z": None}], np.zeros((1, 2)), np.zeros((1, 2)))),
    ("fig_surprise_traces.*at", lambda: F.fig_surprise_traces([], at=nan)),
    ("p_values", lambda: F.fig_surprise_spikes({"a": np.ones(3)}, {})),
    ("clean_frames", lambda: F.fig_surprise_scrubber(np.arange(3), np.ones(3), px, [stop(5)], 1)),
    ("frameskip", lambda: F.fig_surprise_scrubber(np.arange(3), np.ones(3), px, [stop(0)], 1)),
    ("active", lambda: F.fig_surprise_scrubber(np.arange(3), np.ones(3), px, [stop(2)], 1, active=5)),
    ("active", lambda: F.fig_surprise_scrubber(np.arange(3), np.ones(3), px, [stop(2)], 1, active=-1)),
    ("fig_episode_scrubber.*frames", lambda: F.fig_episode_scrubber(np.zeros((0, 8, 8, 3), np.uint8), np.zeros((0, 2)))),
    ("fig_episode_scrubber.*\\bt\\b", lambda: F.fig_episode_scrubber(fr, np.zeros((5, 2)), t=10)),
    ("fig_episode_scrubber.*\\bt\\b", lambda: F.fig_episode_scrubber(fr, np.zeros((5, 2)), t=-1)),
    ("actions", lambda: F.fig_episode_scrubber(fr, np.zeros(5))),
    ("states", lambda: F.fig_episode_scrubber(fr, np.zeros((5, 2)), states=np.zeros((2, 2)), extent=224)),
    ("path_dims", lambda: F.fig_episode_scrubber(fr, np.zeros((5, 2)), states=np.zeros((5, 2)), extent=224, path_dims=(0, 5))),
    ("state_names", lambda: F.fig_episode_scrubber(fr, np.zeros((5, 2)), states=np.zeros((5, 3)), state_names=["a"])),
    ("fig_landscape.*dims", lambda: F.fig_landscape(NS(**dict(vars(Lnd), dims=(0, 5))))),
    ("fig_landscape.*names", lambda: F.fig_landscape(Lnd, names=("x",))),
    ("fig_grid_warp.*coords", lambda: F.fig_grid_warp(NS(names=["x", "y"], view="pca", xs=np.arange(3), ys=np.arange(3),
                                                          coords=np.zeros((2, 2, 2)), valid=np.ones((3, 3), bool)))),
    ("fig_imagination_scrubber.*active", lambda: F.fig_imagination_scrubber(np.zeros((3, 2)), [s0], active=3)),
    ("fig_imagination_scrubber.*slots", lambda: F.fig_imagination_scrubber(np.zeros((3, 2)), [s0], slots=0)),
    ("base.*height", lambda: F.base(F.fig_goal_distance([1.0], 1.0), "t", height=-5)),
]


@pytest.mark.parametrize("match,call", CASES, ids=[f"{i}-{m}" for i, (m, _) in enumerate(CASES)])
def test_a_bad_argument_is_named(match, call):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_valid_inputs_still_draw_lists_included():
    assert len(F.fig_map_trajectories([[0, 0]], [[0, 0]], [[0, 0]]).data) == 4
    assert len(F.fig_latent_map([[0, 0]], [0], "c").data) == 1
    assert len(F.fig_landscapes([NS(**dict(vars(Lnd), spearman=None))]).data) == 4
    assert F.fig_cem_iterations(np.zeros((3, 2)), [it], np.zeros((1, 2)), np.zeros((1, 2))).data
    assert F.fig_imagination_scrubber(np.zeros((3, 2)), [s0]).data
    assert F.fig_surprise_scrubber(np.arange(3), np.ones(3), px, [stop(2)], 1).data


def test_nan_eigenvalues_are_named_in_the_legend():
    fig = F.fig_spectrum([("a", np.array([nan, 1.0]), "red")])
    assert "1 non-finite not drawn" in fig.data[0].name
