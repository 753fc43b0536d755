"""Collapse lab: the same data, two runs side by side — SIGReg on (λ > 0) vs off (λ = 0)."""
import os
import time

import numpy as np
import streamlit as st

import collapse_replay
import common
import discovery
import health
import jobs_view
import live_plot
import pickers
import safety
import widgets
from lewm import figures
from lewm.config import PRESETS, get_preset
from lewm.diagnostics.health import COLLAPSED, DIMENSIONAL
from lewm.jobs import ACTIVE
from lewm.runs import unique_file

st.title("Collapse lab")
st.markdown(
    "Without a regulariser, the cheapest way to predict the next latent perfectly is to give **every frame the "
    "same latent**. Start two identical runs that differ only in λ and watch: the λ = 0 run's prediction loss "
    "drops to ~0 while its latents shrink to a point — the SIGReg histograms become a spike, the spectrum falls "
    "by orders of magnitude. The regularised run keeps its latents close to N(0, I)."
)
collapse_replay.show_recording()
st.subheader("Run it live yourself")
mgr = common.job_manager()

with st.expander("Start a comparison", expanded=not mgr.groups()):
    chosen = jobs_view.selected("collapse_data")
    path, info = pickers.pick_dataset("collapse_data", label="Data (both runs)")
    gone = jobs_view.vanished(chosen, path)  # never start on a dataset the picker moved to on this very rerun
    gone_slot = st.empty()
    if path is None and st.button("Make a small synthetic dataset (moving dot, 32 px)", key="collapse_make_syn"):
        from lewm.synthetic import write_synthetic_h5
        with safety.writing(common.data_dir()):
            out = unique_file(os.path.join(common.data_dir(), "synthetic-dot-32px.h5"))
            write_synthetic_h5(out, episodes=24, length=40, image_size=32)
            st.session_state["collapse_data"] = out
            st.rerun()
    c1, c2, c3, c4 = st.columns([1, 1, 1, 2])
    presets = [p for p in PRESETS if info is None or PRESETS[p].model.image_size == info["image_size"]] or list(PRESETS)
    preset = c1.selectbox("Preset", presets, key="collapse_preset")
    steps = c2.number_input("Steps", 20, 100_000, 400, step=50, key="collapse_steps")
    batch = c3.number_input("Batch size", 8, 1024, 64, step=16, key="collapse_batch",
                            help="Larger batches give smoother SIGReg histograms")
    lam = c4.select_slider("λ of the regularised run", options=[0.01, 0.02, 0.05, 0.09, 0.2, 0.5, 1.0, 2.0],
                           value=0.09, key="collapse_lambda")
    go = st.button("Start both runs", type="primary", disabled=path is None, key="collapse_start")
    if gone is not None and not go:
        gone_slot.warning(gone, icon=":material/warning:")
    if go:
        base = get_preset(preset)
        if gone is not None:
            st.error(gone)
        elif info["image_size"] != base.model.image_size:
            st.error(f"{discovery.rel(path)}: images are {info['image_size']} px but preset '{preset}' expects "
                     f"{base.model.image_size} px.")
        elif (why := jobs_view.data_fits(path, base, 1, int(batch))) is not None:  # was: two workers failing
            st.error(why)
        elif not mgr.can_start_train(2):
            busy = [j for j in mgr.jobs("train") if j.status in ACTIVE]
            mine = [j for j in busy if j.group and j.group == st.session_state.get("collapse_group")]
            if mine:  # was: blamed "another training run" for this page's own comparison (a second click)
                st.error(f"This comparison is already running (started "
                         f"{time.strftime('%H:%M:%S', time.localtime(min(j.started for j in mine)))}); Stop both "
                         f"below to restart it.")
            elif busy and all(j.group for j in busy):
                st.error(f"A comparison ({busy[0].group}) is already running on this server; stop it below (pick it "
                         f"under Comparison) or wait.")
            else:
                st.error("Another training run is active on this server; the comparison needs two free slots. "
                         "Stop it on the Train page or wait.")
        else:
            group = time.strftime("collapse-%Y%m%d-%H%M%S")
            train_o = {"ckpt_every": base.train.ckpt_every, "log_every": max(1, int(steps) // 100),
                       "batch_size": int(batch)}
            threads = max(1, (os.cpu_count() or 2) // 2)
            ids = []
            with safety.writing(common.runs_dir()):
                for tag, w in (("on", float(lam)), ("off", 0.0)):
                    cfg = base.with_overrides(model={"history": 1}, sigreg={"weight": w}, train=train_o)
                    j = mgr.start_train(cfg, path, steps=int(steps), name=f"{group}-{tag}", threads=threads,
                                        view_every=5, group=group, label=f"λ = {w:g}")
                    ids.append(j.id)
                st.session_state["collapse_group"] = st.session_state["collapse_watch"] = group
                st.rerun()

groups = mgr.groups()
if not groups:
    st.info("No comparison on this server yet: start one above.")
    st.stop()
g = st.session_state.get("collapse_group")
if g not in groups:
    g = groups[0]
if st.session_state.get("collapse_watch") not in groups:
    st.session_state["collapse_watch"] = g
g = st.selectbox("Comparison", groups, key="collapse_watch")
st.session_state["collapse_group"] = g
pair = sorted(mgr.jobs("train", group=g), key=lambda j: -j.params["lambda"])  # on first, off second
if any(j.status in ACTIVE for j in pair) and st.button("Stop both", icon=":material/stop:", key="collapse_stop"):
    for j in pair:
        j.stop()
    st.rerun()
was_active = any(j.status in ACTIVE for j in pair)


@safety.fragment(run_every=1.0 if was_active else None)
def live():
    snaps = [j.snapshot() for j in pair]
    cols = st.columns(len(snaps))
    for s, col, color in zip(snaps, cols, (figures.COLORS["on"], figures.COLORS["off"])):
        with col:
            lam_s = s.params["lambda"]
            st.markdown(f"#### {'SIGReg on' if lam_s > 0 else 'SIGReg off'} · λ = {lam_s:g}")
            v = s.view or {}
            std, er, D = v.get("mean_std", float("nan")), v.get("effective_rank", float("nan")), v.get("latent_dim", 0)
            h = health.verdict(std, er, D)
            m = st.columns(4)
            m[0].metric("latent std", f"{std:.3f}", help="scale: mean per-dimension std of the batch latents; target 1")
            m[1].metric("eff. rank", f"{er:.1f}" + (f"/{D}" if D else ""),
                        help="shape (scale-free): how many directions carry the variance; target D")
            m[2].metric("SIGReg (6 dirs)", f"{v.get('sigreg', float('nan')):.2f}",
                        help="Epps–Pulley statistic averaged over the 6 directions of the histograms below")
            m[3].metric("pred. MSE", f"{s.latest.get('pred_loss', float('nan')):.0e}")
            if h.status == COLLAPSED:
                st.error(f"**COLLAPSED** — {h.why}", icon=":material/warning:")
            elif h.status in (DIMENSIONAL, health.SHRINKING):
                st.warning(f"**{h.status}** — {h.why}", icon=":material/warning:")
            elif v:
                st.success(h.why, icon=":material/check_circle:")
            st.progress(s.fraction, text=widgets.job_status_line(s))
            if s.status == "failed":
                st.error(s.error)
    on, off = snaps[0], snaps[-1]

    def series(key):
        return [(f"λ = {s.params['lambda']:g}", s.rank_history.get("step", np.zeros(0)),
                 s.rank_history.get(key, np.zeros(0)), c)
                for s, c in zip(snaps, (figures.COLORS["on"], figures.COLORS["off"]))]

    figs = [figures.fig_sigreg_hist(on.view, title=f"λ = {on.params['lambda']:g}", color=figures.COLORS["on"]),
            figures.fig_sigreg_hist(off.view, title=f"λ = {off.params['lambda']:g}", color=figures.COLORS["off"]),
            figures.fig_series(series("mean_std"), collapse_replay.TITLES["std"], "std",
                              log=True, ref=1.0, ref_name="N(0, I)"),
            figures.fig_spectrum([(f"λ = {s.params['lambda']:g}", s.view["spectrum"], c)
                                 for s, c in zip(snaps, (figures.COLORS["on"], figures.COLORS["off"])) if s.view],
                                title=collapse_replay.TITLES["spectrum"]),
            figures.fig_series(series("effective_rank"), collapse_replay.TITLES["rank"], "rank"),
            figures.fig_series([(f"λ = {s.params['lambda']:g}", s.history["step"], s.history["pred_loss"], c)
                               for s, c in zip(snaps, (figures.COLORS["on"], figures.COLORS["off"]))],
                              collapse_replay.TITLES["pred"], "MSE", log=True)]
    live_plot.live_plots(figs, key=f"collapse_live_{g}", height=320, columns=2)
    st.caption(collapse_replay.SCALE_VS_SHAPE)
    if was_active and not any(s.active for s in snaps):
        st.rerun()


live()
