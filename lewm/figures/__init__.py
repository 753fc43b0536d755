"""Figures: every chart of the lab and of ``python -m lewm report``, built once with Plotly.

Pure functions, data in (arrays, or the small result classes of :mod:`lewm.diagnostics`), a
``plotly.graph_objects.Figure`` out; no Streamlit here (the app renders them with
``st.plotly_chart``, the report writes them into one ``report.html``). One module per family:

- :mod:`.style`        ``COLORS``, ``TEMPLATE``, :func:`base` (the shared layout);
- :mod:`.curves`       :func:`fig_losses`, :func:`fig_series`;
- :mod:`.episode`      :func:`fig_episode_scrubber`;
- :mod:`.projections`  :func:`fig_sigreg_hist` (SIGReg's projections vs N(0, 1)), :func:`fig_spectrum`;
- :mod:`.probes`       :func:`fig_probes` (held-out r / R² bars), :func:`fig_probe_scatter`;
- :mod:`.dynamics`     :func:`fig_open_loop_error`, :func:`fig_map_trajectories`;
- :mod:`.imagination`  :func:`fig_imagination_scrubber` (open-loop imagination from every start frame), :func:`imagined_starts`;
- :mod:`.latent_map`   :func:`fig_latent_map`, :func:`point_hover`;
- :mod:`.surprise`     :func:`fig_surprise_traces`, :func:`fig_surprise_spikes`, :func:`fig_surprise_scrubber`;
- :mod:`.landscape`    :func:`fig_landscape`, :func:`fig_landscapes`, :func:`fig_grid_warp`;
- :mod:`.planning`     :func:`fig_click_canvas`, :func:`fig_cem_iterations`, :func:`fig_goal_distance`;
- :mod:`.failure`      :func:`fig_failure_path` (why an episode failed);
- :mod:`.images`       :func:`fig_image`, :func:`fig_image_grid`,
  :func:`animation_figure`, with :func:`upscale` and :func:`png_uri`.
"""
from .curves import fig_losses, fig_series
from .episode import fig_episode_scrubber
from .dynamics import fig_map_trajectories, fig_open_loop_error
from .failure import fig_failure_path
from .imagination import ImaginedStart, fig_imagination_scrubber, imagined_starts
from .images import animation_figure, fig_image, fig_image_grid, png_uri, upscale
from .landscape import fig_grid_warp, fig_landscape, fig_landscapes
from .latent_map import fig_latent_map, point_hover
from .planning import fig_cem_iterations, fig_click_canvas, fig_goal_distance
from .probes import fig_probe_scatter, fig_probes
from .projections import fig_sigreg_hist, fig_spectrum
from .style import COLORS, TEMPLATE, base
from .surprise import fig_surprise_scrubber, fig_surprise_spikes, fig_surprise_traces

__all__ = [
    "COLORS", "TEMPLATE", "base",
    "fig_losses", "fig_series", "fig_episode_scrubber",
    "fig_sigreg_hist", "fig_spectrum",
    "fig_probe_scatter", "fig_probes",
    "fig_map_trajectories", "fig_open_loop_error", "ImaginedStart", "fig_imagination_scrubber", "imagined_starts",
    "fig_latent_map", "point_hover",
    "fig_surprise_scrubber", "fig_surprise_spikes", "fig_surprise_traces",
    "fig_grid_warp", "fig_landscape", "fig_landscapes",
    "fig_cem_iterations", "fig_click_canvas", "fig_goal_distance",
    "fig_failure_path",
    "animation_figure", "fig_image", "fig_image_grid", "png_uri", "upscale",
]
