"""Train (live): background training with live losses, SIGReg histograms, effective rank, ETA."""
import os

import numpy as np
import streamlit as st

import common
import discovery
import jobs_view
import live_plot
import pickers
import safety
import widgets
from lewm import figures
import health
from lewm.config import PRESETS, get_preset
from lewm.jobs import ACTIVE, AlreadyRunning
from lewm.runs import read_metrics, unique_file

st.title("Train (live)")
st.caption("Training runs in a separate process owned by the server: reload the page or open a second tab and it "
           "is still there. Every run gets its own folder in `runs/`; a finished run appears in the sidebar's "
           "checkpoint list.")
mgr = common.job_manager()


# ------------------------------------------------------------------ new run
with st.expander("Start a new run", expanded=not mgr.jobs("train")):
    chosen = jobs_view.selected("train_data")
    path, info = pickers.pick_dataset("train_data", label="Training data")
    gone = jobs_view.vanished(chosen, path)  # never train on a dataset the picker moved to on this very rerun
    gone_slot = st.empty()
    if path is None:
        if st.button("Make a small synthetic dataset (moving dot, 32 px)", key="train_make_syn"):
            from lewm.synthetic import write_synthetic_h5
            with safety.writing(common.data_dir()):
                out = unique_file(os.path.join(common.data_dir(), "synthetic-dot-32px.h5"))
                write_synthetic_h5(out, episodes=24, length=40, image_size=32)
                st.session_state["train_data"] = out
                st.rerun()
    with st.form("train_form"):
        c1, c2, c3, c4 = st.columns(4)
        presets = list(PRESETS)
        default_preset = "cpu-tiny"
        if info is not None:
            fitting = [p for p in presets if PRESETS[p].model.image_size == info["image_size"]]
            default_preset = fitting[0] if fitting else default_preset
            if st.session_state.get("_train_last_data") != path:  # new data: suggest the preset that fits it
                st.session_state["_train_last_data"] = path
                st.session_state["train_preset"] = default_preset
        st.session_state.setdefault("train_preset", default_preset)
        preset = c1.selectbox("Preset", presets, key="train_preset",
                              help="cpu-tiny: 32 px, seconds · cpu-small: 64 px, a useful Two-Room model in ~20 min "
                                   "on 2 cores · paper: ViT-Tiny 224 px (GPU)")
        steps = c2.number_input("Steps", 10, 1_000_000, 300, step=50, key="train_steps")
        lam = c3.number_input("λ (SIGReg weight)", 0.0, 10.0, 0.09, step=0.01, format="%.3f", key="train_lambda")
        history = c4.number_input("History (frames)", 1, 8, 1, key="train_history",
                                  help="Predictor context; Two-Room uses 1")
        c5, c6, c7, c8 = st.columns(4)
        lr = c5.number_input("Learning rate", 0.0, 1.0, 0.0, format="%.5f", key="train_lr",
                             help="0 = the preset's value")
        batch = c6.number_input("Batch size", 0, 4096, 0, key="train_batch", help="0 = the preset's value")
        devices = ["auto", "cpu"] + (["cuda"] if common.device().startswith("cuda") else [])
        dev = c7.selectbox("Device", devices, key="train_device")
        name = c8.text_input("Run name", "", placeholder="auto", key="train_name")
        start = st.form_submit_button("Start training", type="primary", disabled=path is None)
    if gone is not None and not (start and path is not None):
        gone_slot.warning(gone, icon=":material/warning:")
    if start and path is not None:
        base = get_preset(preset)
        if gone is not None:
            st.error(gone)
        elif info["image_size"] != base.model.image_size:
            st.error(f"{discovery.rel(path)}: images are {info['image_size']} px but preset '{preset}' expects "
                     f"{base.model.image_size} px. Pick a preset with that image size or collect data at "
                     f"{base.model.image_size} px on the Data page.")
        elif (why := jobs_view.data_fits(path, base, int(history), int(batch) or base.train.batch_size,
                                         "train_batch")) is not None:
            st.error(why)
        else:
            # the preset's checkpoint interval (steps / 4 lost up to a quarter of a long run to a crash)
            train_o = {"ckpt_every": base.train.ckpt_every, "log_every": max(1, min(10, int(steps) // 50))}
            if lr > 0:
                train_o["lr"] = float(lr)
            if batch > 0:
                train_o["batch_size"] = int(batch)
            cfg = base.with_overrides(model={"history": int(history)}, sigreg={"weight": float(lam)}, train=train_o)
            run_name = name or f"{info['env'] or 'data'}-{preset}-{int(steps)}steps"
            try:
                with safety.writing(common.runs_dir()):  # the manager refuses a twin of this session's active run
                    job = mgr.start_train(cfg, path, steps=int(steps), name=run_name, stamp=True, view_every=5,
                                          device=None if dev == "auto" else dev, owner=jobs_view.owner())
                    st.session_state["train_job"] = st.session_state["train_watch"] = job.id
                    st.rerun()
            except AlreadyRunning as e:  # a second click (was: a twin run '…-1' used up the server's second slot)
                st.session_state["train_job"] = st.session_state["train_watch"] = e.job.id
                st.error(f"{e}: run `{e.job.label}` with these settings; it is shown below (Stop it there to "
                         f"start it again).", icon=":material/content_copy:")
            except RuntimeError as e:  # the server's limit (or another refusal): one line
                st.error("Two training runs are already active on this server (2 CPU cores). Stop one or wait."
                         if not mgr.can_start_train() else f"Cannot start the run: {e}.")

# ------------------------------------------------------------------ pick the run to watch
jobs = mgr.jobs("train")
if not jobs:
    st.info("No run on this server yet: start one above.")
else:
    mine = mgr.get(st.session_state.get("train_job"))
    if mine is None:  # after a reload: reattach to the newest active run, else the newest run
        act = [j for j in jobs if j.status in ACTIVE and not j.group] or [j for j in jobs if j.status in ACTIVE]
        mine = (act or jobs)[0]
    ids = [j.id for j in jobs]
    if st.session_state.get("train_watch") not in ids:
        st.session_state["train_watch"] = mine.id
    sel = st.selectbox("Run", ids, key="train_watch",
                       format_func=lambda i: (lambda j: j.label + (f" [{j.group}]" if j.group else ""))(mgr.get(i)))
    st.session_state["train_job"] = sel
    job = mgr.get(sel)

    c1, c2, c3, _ = st.columns([1, 1, 1, 4])
    if job.status in ("starting", "running"):
        if c1.button("Pause", icon=":material/pause:", key="train_pause"):
            job.pause()
            st.rerun()
    elif job.status == "paused":
        if c1.button("Resume", icon=":material/play_arrow:", key="train_resume"):
            job.resume()
            st.rerun()
    if job.status in ACTIVE and c2.button("Stop", icon=":material/stop:", key="train_stop",
                                         help="Stops and saves the checkpoint at the current step"):
        job.stop()
        st.rerun()
    was_active = job.status in ACTIVE

    @safety.fragment(run_every=1.0 if was_active else None)
    def live():
        s = job.snapshot()
        lat = s.latest
        m = st.columns(7)
        m[0].metric(f"step (of {s.total})", f"{s.done}")
        num = widgets.fmt_num  # "—" before the first logged step (was "nan" in every metric)
        m[1].metric("loss", num(lat.get("loss"), ".4f"))
        m[2].metric("prediction", num(lat.get("pred_loss"), ".4f"))
        m[3].metric("SIGReg loss", num(lat.get("sigreg"), ".3f"),
                    help="The loss term: the Epps–Pulley statistic averaged over all the random directions drawn at "
                         "this step. The histograms' title shows the same statistic on their 6 directions only "
                         "(another sample): the two numbers differ.")
        er = s.view["effective_rank"] if s.view else None
        D = s.view["latent_dim"] if s.view else None
        m[4].metric("effective rank", num(er, ".1f") + (f" / {D}" if D and er is not None else ""))
        m[5].metric("samples/s", num(lat.get("samples_per_s"), ".0f"))
        m[6].metric("ETA", widgets.fmt_s(s.eta_s) if s.active else "—")
        health.badge_from_view(s.view)
        st.progress(s.fraction, text=widgets.job_status_line(s) + f" · elapsed {widgets.fmt_s(s.elapsed_s)}")
        if s.status == "starting":
            st.caption("Starting the worker process (importing torch takes a few seconds)…")
        elif s.active and not lat:
            st.caption("Waiting for the first training step (the metrics show — until then)…")
        figs = [figures.fig_losses(s.history, lam=s.params.get("lambda")),
                figures.fig_sigreg_hist(s.view, title="6 random directions (not the loss's sample)")]
        rh = s.rank_history
        rank_series = [("effective rank", rh["step"], rh["effective_rank"], figures.COLORS["rank"])] if rh else []
        f_rank = figures.fig_series(rank_series, "Effective rank of the batch latents", "rank",
                                   ref=float(D) if D else None, ref_name=f"D = {D}" if D else "")
        spectra = [("now", s.view["spectrum"], figures.COLORS["on"])] if s.view else []
        figs += [f_rank, figures.fig_spectrum(spectra)]
        live_plot.live_plots(figs, key=f"train_live_{s.id}", height=330, columns=2)
        if s.status == "failed":
            st.error(f"Training failed: {s.error}")
        elif s.status == "stopped" and s.result is None:  # ended before it could report (was: a KeyError box)
            from lewm._jobs_workers import saved_note
            st.info(f"Run stopped at step {s.done} before it could report: {saved_note(s.out)}.",
                    icon=":material/stop_circle:")
        elif s.status in ("finished", "stopped"):
            ck = s.result["checkpoint"]
            val = widgets.fmt_num(s.result["metrics"].get("val_pred_loss"), ".4f")
            said = (f"Run {s.status} at step {s.result['step']}: checkpoint `{discovery.rel(ck)}` "
                    f"(val prediction loss {val})")
            if not s.result["step"]:  # was: an untrained model offered like a result (its val loss looked good)
                kept = (f"`{discovery.rel(ck)}` is the untrained model (val prediction loss {val} is not a training "
                        f"result)") if ck else "no checkpoint was written"
                st.warning(f"Run {s.status} at step 0, before its first training step: {kept}. Start a new run "
                           f"to train.", icon=":material/warning:")
            elif problems := health.run_problems(s.latest, s.result["metrics"], s.view):  # was: green, diverged or not
                st.warning(f"{said}, but " + "; ".join(problems) + ".", icon=":material/warning:")
            else:
                st.success(said + ".")
            if s.result["step"] and st.button("Use this checkpoint in the other pages", key=f"train_use_{s.id}"):
                pickers.select_checkpoint(ck)
        if was_active and not s.active:
            st.rerun()  # settle the page (stop polling)

    live()

# ------------------------------------------------------------------ past runs on disk
with st.expander("Runs on disk (including those of earlier server sessions)"):
    run_dirs = sorted([d for d in (os.path.join(common.runs_dir(), x) for x in os.listdir(common.runs_dir()))
                       if os.path.exists(os.path.join(d, "metrics.jsonl"))], key=discovery.mtime, reverse=True) \
        if os.path.isdir(common.runs_dir()) else []
    if not run_dirs:
        st.caption("None yet.")
    else:
        d = st.selectbox("Run folder", run_dirs, format_func=discovery.rel, key="train_past")
        mj, read_ok = os.path.join(d, "metrics.jsonl"), False
        try:
            h, read_ok = read_metrics(d), True
        except (ValueError, AttributeError, OSError, OverflowError) as e:  # a damaged metrics.jsonl: say so, keep the page
            st.error(f"{discovery.rel(mj)}: unreadable ({type(e).__name__}: {e}).")
            h = {}
        if read_ok and not h and os.path.isfile(mj) and os.path.getsize(mj) == 0:  # was: an empty chart, no word
            st.info(f"{discovery.rel(mj)} is empty: the run has not logged a step yet (or died before it).")
        elif read_ok and not h and os.path.isfile(mj):
            st.info(f"{discovery.rel(mj)}: no complete metrics line yet, so there is nothing to plot.")
        if h and "step" not in h:  # nothing to plot against: an empty chart without a word was silently wrong
            st.warning(f"{discovery.rel(os.path.join(d, 'metrics.jsonl'))}: no line has a numeric 'step', so its "
                       f"{', '.join(sorted(h))} cannot be plotted against training steps.")
            h = {}
        st.plotly_chart(figures.fig_losses(h, title=f"Losses of {os.path.basename(d)}"), key="train_past_losses")
        if "effective_rank" in h:
            ok = ~np.isnan(h["effective_rank"])
            st.plotly_chart(figures.fig_series([("effective rank", h["step"][ok], h["effective_rank"][ok],
                                                figures.COLORS["rank"])], "Effective rank", "rank"),
                            key="train_past_rank")
