"""Latent space: a PCA / UMAP map of a checkpoint's latents coloured by true physical quantities; probes."""
from types import SimpleNamespace

import numpy as np
import streamlit as st

import cache
import discovery
import pickers
import widgets
from lewm import figures
from lewm.envs import list_envs, missing_packages
import health

st.title("Latent space")
model, cfg, meta, ckpt = pickers.require_checkpoint()
pickers.checkpoint_caption(cfg, meta, ckpt)
st.markdown("Every dot is one frame of the dataset, placed by a 2-D map of its latent **z**. If the model has "
            "learned the physics, colouring by a true quantity (e.g. the agent's x position) shows smooth gradients, "
            "and a *linear* probe can read that quantity back from z.")

path, info = pickers.pick_dataset("latent_data", cfg=cfg, need_state=True, ckpt=ckpt)
if path is None:
    st.stop()
c1, c2, c3 = st.columns([1, 1, 2])
max_frames = c1.select_slider("Frames to encode", [500, 1000, 2000, 3000, 5000, 10000], value=2000, key="latent_frames")
method = c2.radio("Map", ["pca", "umap"], format_func=str.upper, horizontal=True, key="latent_method",
                  help="PCA is instant. UMAP shows neighbourhoods better; it ships precomputed for each checkpoint's "
                       "reference set. Otherwise importing it costs ~35 s and the first fit up to a couple of "
                       "minutes here; it is computed once and stored.")
args = (ckpt, discovery.mtime(ckpt), path, discovery.mtime(path), int(max_frames))
enc = cache.encoded_dataset(*args)
health.badge_for_encoded(*args)
# a state named like the frame's own labels ("episode", "time step": a file's state_names) is prefixed,
# else the options were duplicated and that state column could not be picked
labels = [f"state: {n}" if n in ("episode", "time step") else n for n in enc.state_names]
names = labels + ["episode", "time step"]
color_by = c3.selectbox("Colour by", names, key="latent_color")

coords, map_name = None, "pca"
if method == "umap":
    if cache.has_latent_map(*args, "umap"):
        coords, map_name = cache.get_latent_map(*args, "umap").coords, "umap"
    else:
        coords = cache.stored_umap(*args)
        if coords is not None:
            map_name = "umap"
            st.caption("UMAP stored with this checkpoint's data (computed once, loaded instantly).")
        else:
            st.info("UMAP is not computed yet for this checkpoint and dataset (PCA shown).")
            if st.button("Compute UMAP", type="primary", key="latent_umap"):
                cache.get_latent_map(*args, "umap")
                st.rerun()
if coords is None:
    coords = cache.get_latent_map(*args, "pca").coords
lmap = SimpleNamespace(coords=coords, method=map_name)  # what the scatter below reads

cvals = {"episode": enc.episode, "time step": enc.step}.get(color_by)
if cvals is None:
    cvals = enc.state[:, labels.index(color_by)]
custom, hover = figures.point_hover(enc.episode, enc.step, enc.state, enc.state_names)

left, right = st.columns([3, 2])
with left:
    fig = figures.fig_latent_map(lmap.coords, cvals, color_by, method=lmap.method,
                                 title=f"{lmap.method.upper()} of {len(enc.latents):,} latents (D = {enc.latents.shape[1]}) · "
                                       f"click a dot to see its frame",
                                 customdata=custom, hovertemplate=hover, uirevision="latent", dragmode="pan")
    event = st.plotly_chart(fig, key="latent_map", on_select="rerun", selection_mode="points")
with right:
    idx = widgets.selected_point(event)
    idx = int(st.session_state.get("latent_pick", 0)) if idx is None else idx
    idx = idx if 0 <= idx < len(enc.latents) else 0  # a pick from another dataset / frame count
    st.session_state["latent_pick"] = idx
    st.markdown(f"**Frame {int(enc.frame_index[idx])}** (episode {int(enc.episode[idx])}, step {int(enc.step[idx])})")
    fcol, scol = st.columns([1, 1])
    fcol.image(figures.upscale(enc.pixels[idx], 192), width=192)
    scol.dataframe({"quantity": list(enc.state_names), "value": [float(v) for v in enc.state[idx]]},
                   hide_index=True)
    by_episode = len(np.unique(enc.episode)) >= 2  # lewm's split_indices falls back to rows on one episode
    st.markdown("**Probes** — held-out R² and Pearson r (split by " + ("episode)" if by_episode else "row)"))
    if not by_episode:
        st.warning("The encoded frames come from one episode, so the probes' train/test split is by row: frames of "
                   "that episode land on both sides and the held-out scores are optimistic. Use a dataset with "
                   "several episodes for an honest score.")
    pc1, pc2 = st.columns(2)
    kind = pc1.radio("Probe", ["linear", "mlp"], horizontal=True, key="latent_probe")
    feats = pc2.radio("On", ["latent", "embedding"], horizontal=True, key="latent_probe_feats",
                      format_func={"latent": f"latent z ({enc.latents.shape[1]}-d)",
                                   "embedding": f"encoder embedding ({enc.embeddings.shape[1]}-d)"}.get,
                      help="z is the planner's latent after the BatchNorm projector; the embedding is the encoder's "
                           "CLS token before it. A low-dimensional z has to fold the state to look Gaussian, so a "
                           "linear read-out of z can be poor while the embedding stays linear.")
    pr = cache.probe_result(*args, kind, feats)
    st.dataframe({"quantity": list(pr.names), "R²": np.round(pr.r2, 3), "Pearson r": np.round(pr.pearson, 3)},
                 hide_index=True)
    st.caption(f"{pr.n_train:,} train / {pr.n_test:,} test frames. Paper (Two-Room): linear r = 0.996 for the "
               "agent position.")
    mt = cache.meters_of(*args)
    m1, m2 = st.columns(2)
    m1.metric("effective rank", f"{mt.effective_rank:.1f} / {enc.latents.shape[1]}")
    m2.metric("PCs for 90% variance", mt.components_90)

st.divider()
st.subheader("A grid of true states in latent space")
st.markdown("Render every point of a regular grid of true states, encode it, and draw the grid where the "
            "latents put it. Straight, parallel rows mean z is *linear* in the state (what a linear probe "
            "needs); a fan, a fold or a ring shows exactly where the map bends.")
g1, g2 = st.columns([1, 3])
if cfg.env not in list_envs():  # was: the button answered "unknown environment", as if the checkpoint were broken
    st.info(f"This checkpoint was trained on '{cfg.env or 'unknown'}' data, which has no simulator to render a grid "
            f"of states here{missing_packages(cfg.env)}; the grid needs a checkpoint of one of {', '.join(list_envs())}.")
    st.stop()
n_grid = g1.select_slider("Grid points per side", [12, 16, 20, 25, 30], value=20, key="latent_grid_n")
if g1.button("Draw the grid", key="latent_grid_go") or st.session_state.get("latent_grid_shown"):
    try:
        gw = cache.grid_warp(ckpt, discovery.mtime(ckpt), int(n_grid))
    except (KeyError, ValueError) as e:
        st.session_state.pop("latent_grid_shown", None)  # said once: not again on every later rerun
        st.error(f"Cannot draw a state grid for env {cfg.env!r}: {e}")
    else:
        st.session_state["latent_grid_shown"] = True
        with g2:
            mc = st.columns(2 + (len(gw.region_names) >= 2))
            for k, (nm, r) in enumerate(zip(gw.names, gw.readout.r)):
                mc[k].metric(f"affine readout r ({nm}, whole grid)", f"{r:.3f}")
            if len(gw.region_names) >= 2:
                mc[2].metric(f"{gw.region_names[0]} vs {gw.region_names[1]}: readout angle ({gw.names[1]})",
                             f"{gw.region_angle[1]:.0f}°",
                             help="Angle between the directions in z that read the quantity in each region "
                                  "alone: 0° = one linear readout serves both, large = the map is bent between them.")
        st.plotly_chart(figures.fig_grid_warp(gw), key="latent_grid_fig")
