"""Dynamics: imagined (open-loop) vs actual latent trajectories; surprise under teleport / colour change."""
import numpy as np
import streamlit as st

import cache
import discovery
import pickers
import safety
import widgets
from lewm import figures
import health
from captions import surprise_caption
from lewm.envs import list_envs
from lewm.diagnostics import colour_change, surprise_trace, teleport, temporal_straightness

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
    if avail > 1:
        horizon = c2.slider("Imagined steps (blocks of frameskip actions)", 1, avail, min(avail, 10), key="dyn_horizon")
    else:  # a slider needs min < max
        horizon = 1
        c2.caption("Imagined steps: 1 (the episode is short)")
    st.subheader("Imagination vs reality")
    st.caption(f"The predictor sees {H} frame(s) from the start frame and then only the actions: it rolls forward "
               f"open loop ({horizon} steps of {fs} actions, fewer near the episode's end). Blue: the encoder's latents "
               "of what really happened; orange: imagined. Drag the slider under the figure to move the start frame.")
    starts = cache.imagination(*args, ep, episode, horizon, lmap)
    st.plotly_chart(figures.fig_imagination_scrubber(lmap.coords, starts, method=lmap.method), key="dyn_scrub")
    st.metric("temporal straightness of this episode's latents", f"{temporal_straightness(clean.latents):.2f}",
              help="mean cosine between consecutive latent velocities z(t+1) − z(t) along the episode (frames every "
                   "frameskip steps): 1 = straight lines; it rises during training")


imagination(episode, clean)

# ------------------------------------------------------------------ surprise
@safety.fragment
def surprise(episode: dict, clean) -> None:
    """The perturbation frame and colour mode with the traces they drive: re-runs only this section."""
    st.subheader("Surprise: violation of expectation")
    st.caption("Surprise = one-step prediction error of each frame given the previous ones. A physically impossible "
               "event (the agent teleports) should make it spike; whether a mere colour change does too depends on "
               "what the encoder learned to ignore — the line under the numbers says what this model did.")
    kept = np.arange(fs * max(H, 1), L, fs)
    if len(kept) == 0:
        st.info("Episode too short for a surprise trace.")
        return
    c1, c2 = st.columns(2)
    t = c1.select_slider("Perturbation at frame", options=[int(k) for k in kept], value=int(kept[len(kept) // 2]),
                         key="dyn_t")
    colour_mode = c2.radio("Colour change", ["hue", "invert", "gray"], horizontal=True, key="dyn_colour")
    env = cache.make_env(cfg.env, cfg.model.image_size) if cfg.env in list_envs() else None
    traces = [("clean", clean, "#1f77b4")]
    px_tel = None
    if env is not None:
        px_tel, _ = teleport(episode["pixels"], episode["state"], int(t), env, goal_state=episode.get("goal_state"))
        traces.append(("teleport", surprise_trace(model, px_tel, episode["action"], cfg), "#d62728"))
    px_col = colour_change(episode["pixels"], int(t), colour_mode)
    traces.append((f"colour ({colour_mode})", surprise_trace(model, px_col, episode["action"], cfg), "#2ca02c"))
    fsur = figures.fig_surprise_traces([(name, tr.frames, tr.error, color) for name, tr, color in traces], at=int(t))
    st.plotly_chart(fsur, key="dyn_surprise")
    m = st.columns(len(traces))
    for col, (name, tr, _) in zip(m, traces):
        col.metric(f"surprise at frame {t}: {name}", f"{tr.at(int(t)):.4f}",
                   delta=None if name == "clean" else f"×{tr.at(int(t)) / max(clean.at(int(t)), 1e-12):.1f} vs clean",
                   delta_color="off")
    ratio = {name: tr.at(int(t)) / max(clean.at(int(t)), 1e-12) for name, tr, _ in traces}
    st.caption(surprise_caption(ratio.get("teleport"), ratio[f"colour ({colour_mode})"], colour_mode))
    frames = [episode["pixels"][t - fs], episode["pixels"][t]]
    caps = [f"t = {t - fs}", f"t = {t} (clean)"]
    if px_tel is not None:
        frames.append(px_tel[t])
        caps.append(f"t = {t} (teleported)")
    frames.append(px_col[t])
    caps.append(f"t = {t} (colour)")
    widgets.show_frames(frames, caps, size=112)


surprise(episode, clean)
