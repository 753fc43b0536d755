"""Dynamics: imagined (open-loop) vs actual latent trajectories; surprise under teleport / colour change."""
import numpy as np
import streamlit as st

import cache
import discovery
import pickers
import safety
import widget_memory
import widgets
from lewm import figures
import health
from captions import surprise_caption
from lewm.diagnostics import surprise_trace, sweep_frames, temporal_straightness

st.title("Dynamics")
model, cfg, meta, ckpt = pickers.require_checkpoint()
pickers.checkpoint_caption(cfg, meta, ckpt)
path, info = pickers.pick_dataset("dyn_data", cfg=cfg, need_state=True)
if path is None:
    st.stop()
fs, H = cfg.model.frameskip, cfg.model.history
args = (ckpt, discovery.mtime(ckpt), path, discovery.mtime(path), 2000)
health.badge_for_encoded(*args)
lmap = cache.get_latent_map(*args, "umap") if cache.has_latent_map(*args, "umap") else cache.get_latent_map(*args, "pca")

c1, _ = st.columns([1, 2])
ep, episode = widgets.pick_episode(c1, path, info, "dyn_episode")
L = len(episode["pixels"])
max_start = L - 1 - fs * H
if max_start < 0:
    st.error(f"Episode {ep} has {L} frames: too short for history {H} × frameskip {fs} + 1.")
    st.stop()
clean = surprise_trace(model, episode["pixels"], episode["action"], cfg)  # once per episode (both sections)


@safety.fragment
def imagination(episode: dict, clean) -> None:
    """The horizon slider with the scrubber it drives: every start frame's imagination is computed once,
    then the figure's own slider steps through the start frames in the browser (no server round trip)."""
    avail = (L - 1) // fs - (H - 1)  # imagined steps left after the first start frame
    c2, _ = st.columns(2)
    if avail > 1 and isinstance(kept := st.session_state.get("dyn_horizon"), int) and kept > avail:
        st.session_state["dyn_horizon"] = avail  # a shorter episode or dataset than the kept value's (round 22, N1)
        st.info(f"Imagined steps {kept} is more than this episode allows ({avail}): using {avail}.",
                icon=":material/tune:")
    if avail > 1:
        horizon = c2.slider("Imagined steps (blocks of frameskip actions)", 1, avail, min(avail, 10), key="dyn_horizon",
                            on_change=widget_memory.note, args=(st.session_state, "dyn_horizon"))
    else:  # a slider needs min < max
        horizon = 1
        c2.caption("Imagined steps: 1 (the episode is short)")
    st.subheader("Imagination vs reality")
    st.caption(f"The predictor sees {H} frame(s) from the start frame and then only the actions: it rolls forward "
               f"open loop ({horizon} steps of {fs} actions, fewer near the episode's end). Blue: the encoder's latents "
               "of what really happened; orange: imagined. Drag the slider under the figure to move the start frame.")
    starts = cache.imagination(*args, ep, episode, horizon, lmap)
    st.plotly_chart(figures.fig_imagination_scrubber(lmap.coords, starts, method=lmap.method), key="dyn_scrub")
    straight = temporal_straightness(clean.latents) if len(clean.latents) >= 3 else float("nan")
    st.metric("temporal straightness of this episode's latents",
              f"{straight:.2f}" if straight == straight else "— (needs 3 kept frames)",
              help="mean cosine between consecutive latent velocities z(t+1) − z(t) along the episode (frames every "
                   "frameskip steps): 1 = straight lines; it rises during training")


imagination(episode, clean)

# ------------------------------------------------------------------ surprise
@safety.fragment
def surprise(episode: dict, clean) -> None:
    """The colour mode with the scrubbed figure it drives: every perturbation frame is computed once,
    then the figure's own slider moves the perturbation in the browser (no server round trip)."""
    st.subheader("Surprise: violation of expectation")
    st.caption("Surprise = one-step prediction error of each frame given the previous ones. A physically impossible "
               "event (the agent teleports) should make it spike; whether a mere colour change does too depends on "
               "what the encoder learned to ignore. Drag the slider under the figure to move the perturbation; "
               "the numbers under it summarise every perturbation frame.")
    if len(sweep_frames(L, cfg)) == 0:
        st.info("Episode too short for a surprise trace.")
        return
    colour_mode = st.radio("Colour change", ["hue", "invert", "gray"], horizontal=True, key="dyn_colour",
                           on_change=widget_memory.note, args=(st.session_state, "dyn_colour"))
    stops = cache.surprise_sweep(ckpt, discovery.mtime(ckpt), path, discovery.mtime(path), ep, episode, colour_mode)
    st.plotly_chart(figures.fig_surprise_scrubber(clean.frames, clean.error, episode["pixels"], stops, fs, colour_mode),
                    key="dyn_surprise")
    ratios = {"colour": np.median([r.colour.at(r.t) / max(clean.at(r.t), 1e-12) for r in stops])}
    if stops[0].teleport is not None:
        ratios["teleport"] = np.median([r.teleport.at(r.t) / max(clean.at(r.t), 1e-12) for r in stops])
    cols = st.columns(len(ratios))
    for col, name in zip(cols, sorted(ratios, key=lambda k: k != "teleport")):
        label = "teleport" if name == "teleport" else f"colour ({colour_mode})"
        col.metric(f"surprise {label} / clean, median of {len(stops)} frames", f"×{ratios[name]:.1f}")
    st.caption(surprise_caption(ratios.get("teleport"), ratios["colour"], colour_mode))


surprise(episode, clean)
