"""Hyperparameters: one source of truth.

Every knob lives in a frozen dataclass with a docstring per field. Presets are defined once, in
``PRESETS``; a checkpoint stores ``LeWMConfig.to_dict()`` so it can rebuild its model alone.
"""
from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .env_names import env_key
from .validate import check_action_stats, check_fields, number_tuple, parse_bool, ranged

PRECISIONS = ("auto", "fp32", "bf16")
# Upper ends of the architecture's sizes: far above any model this lab trains (ViT-Tiny: 192 wide, 12 deep), and low
# enough that a model past the machine is measured (lewm.model.parameter_count, on the meta device) in a second and
# refused in one line. Without them 10**12 was a traceback ("Storage size calculation overflowed") or a hang while
# 10**12 blocks were built (round 27, E1).
MAX_WIDTH, MAX_DEPTH, MAX_HEADS = 65536, 256, 1024


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of the LeWM world model (encoder, projectors, action encoder, predictor)."""

    image_size: int = ranged(224, lo=8, hi=1024)
    """Side of the square RGB input image, in pixels. Allowed: [8, 1024]."""
    patch_size: int = ranged(14, lo=1, hi=1024)
    """ViT patch side in pixels; ``image_size`` must be a multiple of it. Allowed: [1, 1024], dividing image_size."""
    enc_dim: int = ranged(192, lo=1, hi=MAX_WIDTH)
    """ViT width (token dimension). ViT-Tiny: 192. Allowed: [1, 65536], divisible by enc_heads."""
    enc_depth: int = ranged(12, lo=1, hi=MAX_DEPTH)
    """Number of ViT blocks. ViT-Tiny: 12. Allowed: [1, 256]."""
    enc_heads: int = ranged(3, lo=1, hi=MAX_HEADS)
    """Attention heads in the ViT. ViT-Tiny: 3. Allowed: [1, 1024]."""
    enc_mlp: int = ranged(768, lo=1, hi=MAX_WIDTH)
    """Hidden width of the ViT MLP. ViT-Tiny: 768 (4x width). Allowed: [1, 65536]."""
    latent_dim: int = ranged(192, lo=1, hi=MAX_WIDTH)
    """Dimension D of the latent z_t (output of the projector). Allowed: [1, 65536]."""
    proj_hidden: int = ranged(2048, lo=1, hi=MAX_WIDTH)
    """Hidden width of the BatchNorm projector MLPs (projector and pred_proj). Allowed: [1, 65536]."""
    pred_dim: int = ranged(192, lo=1, hi=MAX_WIDTH)
    """Predictor transformer width. Allowed: [1, 65536]."""
    pred_depth: int = ranged(6, lo=1, hi=MAX_DEPTH)
    """Number of predictor transformer blocks. Allowed: [1, 256]."""
    pred_heads: int = ranged(16, lo=1, hi=MAX_HEADS)
    """Attention heads in the predictor. Allowed: [1, 1024]."""
    pred_dim_head: int = ranged(64, lo=1, hi=MAX_WIDTH)
    """Per-head dimension in the predictor (inner width = heads * dim_head). Allowed: [1, 65536]."""
    pred_mlp: int = ranged(2048, lo=1, hi=MAX_WIDTH)
    """Hidden width of the predictor MLP. Allowed: [1, 65536]."""
    dropout: float = ranged(0.1, lo=0, hi=1, hi_open=True)
    """Dropout in the predictor (attention output and MLP). Allowed: [0, 1)."""
    emb_dropout: float = ranged(0.0, lo=0, hi=1, hi_open=True)
    """Dropout on the predictor input after the positional embedding. Allowed: [0, 1)."""
    history: int = ranged(3, lo=1, hi=64)
    """Number of past latents the predictor sees (its context length). Two-Room uses 1. Allowed: [1, 64]."""
    action_dim: int = ranged(2, lo=1, hi=MAX_WIDTH)
    """Dimension A of one raw environment action. Allowed: [1, 65536]."""
    frameskip: int = ranged(5, lo=1, hi=100)
    """Raw actions per action block; the action encoder sees frameskip * A numbers per step. Allowed: [1, 100]."""
    action_hidden: int = ranged(10, lo=1, hi=MAX_WIDTH)
    """Output channels of the action encoder's Conv1d (k=1) patch embedding. Allowed: [1, 65536]."""
    pos_init: str = ranged("sincos", choices=("sincos", "random"))
    """Initial ViT position embeddings: 'sincos' (2-D sine-cosine, as MAE/I-JEPA; smooth in space
    from step 0, which gives short CPU runs a far better latent geometry) or 'random' (HF ViT's
    truncated normal). Either way they stay learnable. Allowed: 'sincos' or 'random'."""
    pos_freq_scale: float = ranged(1.0, lo=0, lo_open=True, hi=100)
    """Multiplies the 'sincos' frequencies. 1.0 is MAE's: the fastest channel turns 1 rad per patch,
    so across an 8-patch grid it wraps around (a ring-shaped code). Below 1 every channel varies
    slowly and monotonically across the image (0.2: at most 1.4 rad over 8 patches). Allowed: (0, 100]."""

    def __post_init__(self) -> None:
        check_fields(self, "model")
        if self.image_size % self.patch_size:
            raise ValueError(f"model.image_size {self.image_size} is not a multiple of model.patch_size "
                             f"{self.patch_size}; choose a patch size that divides it")
        if self.enc_dim % self.enc_heads:
            raise ValueError(f"model.enc_dim {self.enc_dim} is not divisible by model.enc_heads {self.enc_heads}")

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    @property
    def action_block_dim(self) -> int:
        """Numbers per action block: frameskip * action_dim."""
        return self.frameskip * self.action_dim


@dataclass(frozen=True)
class SIGRegConfig:
    """Sketched Isotropic Gaussian Regulariser (Epps–Pulley test on random 1-D projections)."""

    weight: float = ranged(0.09, lo=0, hi=1e6)
    """lambda: weight of SIGReg in the loss. 0 disables it (and the latents collapse). Allowed: [0, 1e6]."""
    num_proj: int = ranged(1024, lo=1, hi=1 << 20)
    """M: number of random unit directions drawn (fresh) at every call. Allowed: [1, 1048576]."""
    knots: int = ranged(17, lo=2, hi=1000)
    """Quadrature knots of the trapezoid rule on t in [0, t_max]. Allowed: [2, 1000]."""
    t_max: float = ranged(3.0, lo=0, lo_open=True, hi=100)
    """Upper end of the integration range for the characteristic-function test. Allowed: (0, 100]."""

    def __post_init__(self) -> None:
        check_fields(self, "sigreg")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation."""

    lr: float = ranged(5e-5, lo=0, lo_open=True)
    """Peak AdamW learning rate (after warmup). Allowed: > 0 (finite)."""
    weight_decay: float = ranged(1e-3, lo=0, hi=10)
    """AdamW weight decay. Allowed: [0, 10]."""
    batch_size: int = ranged(128, lo=1, hi=1 << 20)
    """Windows per batch. Allowed: [1, 1048576]."""
    steps: int = ranged(10_000, lo=1, hi=10**9)
    """Total optimisation steps (cosine schedule length). Allowed: [1, 1e9]."""
    warmup_steps: int = ranged(500, lo=0, hi=10**9)
    """Linear warmup steps. Allowed: [0, 1e9]."""
    min_lr_ratio: float = ranged(0.1, lo=0, hi=1)
    """Final learning rate as a fraction of ``lr`` at the end of the cosine. Allowed: [0, 1]."""
    grad_clip: float = ranged(1.0, lo=0, lo_open=True)
    """Max global gradient norm. Allowed: > 0."""
    ckpt_every: int = ranged(500, lo=1)
    """Save ``last.pt`` every this many steps (also at the end). Allowed: >= 1."""
    keep_snapshots: bool = False
    """Also keep a weights-only copy ``step_<N>.pt`` at every ``ckpt_every`` step, for picking a
    model by a planning-relevant score after the run (``--set train.keep_snapshots=true``). Allowed: true or false."""
    bn_recalibrate_batches: int = ranged(16, lo=0, hi=10000)
    """Before every checkpoint is written, re-estimate the BatchNorm running statistics as a plain
    average over this many training batches at the current weights (0 = keep PyTorch's momentum
    average). The pre-BN activations are tiny (variance ~1e-4: BN makes the loss blind to their
    scale, so weight decay shrinks them) while each optimiser step moves them by about a standard
    deviation, so the momentum-0.1 running averages lag the weights and eval-mode latents come out
    shifted by >1 std: planning and diagnostics run in eval mode. Only the saved copy changes;
    training itself is untouched. Allowed: [0, 10000]."""
    log_every: int = ranged(10, lo=1)
    """Append a metrics line to metrics.jsonl every this many steps. Allowed: >= 1."""
    val_fraction: float = ranged(0.05, lo=0, hi=1, hi_open=True)
    """Fraction of episodes held out for validation (split by episode). Allowed: [0, 1)."""
    num_workers: int = ranged(0, lo=0, hi=256)
    """DataLoader worker processes (0 = main process; best on a 2-core CPU). With workers, whole
    batches are gathered in the workers and, on CUDA, handed over in pinned memory. Allowed: [0, 256]."""
    compile: bool = False
    """``torch.compile`` the encoder, projectors, action encoder and predictor (in place, so
    parameter names and checkpoints are unchanged). Costs a one-off compilation (tens of seconds
    or more); pays off on GPUs for long runs. Off by default. Allowed: true or false."""
    seed: int = ranged(0, lo=0, hi=2**32 - 1)
    """Seed for model init, data order and SIGReg directions. Allowed: [0, 2^32 - 1]."""
    precision: str = ranged("auto", choices=PRECISIONS)
    """Compute precision of the encoder, predictor and projectors: 'fp32', 'bf16' (autocast; SIGReg,
    the losses, BatchNorm statistics and the optimizer stay fp32) or 'auto' = bf16 on CUDA GPUs and,
    for encoders at least 128 wide, on CPUs with native bf16 (avx512_bf16 / AMX); fp32 elsewhere (lewm/precision.py). Checkpoints are precision-independent (fp32 master weights). Allowed: 'auto', 'fp32' or 'bf16'."""
    time_budget_s: float = ranged(0.0, lo=10, hi=7 * 86400, zero_ok=True)
    """Wall-clock budget in seconds (0 = none; allowed 0 or >= 10). When set, the cosine schedule
    runs on elapsed time instead of steps and training stops at the budget (or at ``steps``,
    whichever comes first): a fixed-time recipe on hardware of unknown speed (the GPU recipe). Allowed: 0 (off) or [10, 604800]."""
    ram_limit_gb: float = ranged(3.0, lo=0, hi=1024)
    """Read the dataset's pixels into RAM when they take at most this many GiB (else stream them
    from the HDF5 file); allowed [0, 1024]. On CUDA an in-RAM dataset is copied to the GPU once
    and batches are gathered there. Allowed: [0, 1024]."""

    def __post_init__(self) -> None:
        check_fields(self, "train")


@dataclass(frozen=True)
class LeWMConfig:
    """Everything needed to rebuild and retrain a model; stored inside every checkpoint."""

    model: ModelConfig = field(default_factory=ModelConfig)
    """Architecture."""
    sigreg: SIGRegConfig = field(default_factory=SIGRegConfig)
    """Regulariser."""
    train: TrainConfig = field(default_factory=TrainConfig)
    """Optimisation."""
    preset: str = "paper"
    """Name of the preset this config started from (informational)."""
    env: str = ""
    """Environment the training data came from (filled in by training); stored canonical
    (:func:`lewm.env_names.env_key`: 'TwoRoom' -> 'two_room'). Allowed: '' or any name."""
    action_mean: tuple[float, ...] = ()
    """Per-dimension mean of raw actions in the training data (actions are z-scored)."""
    action_std: tuple[float, ...] = ()
    """Per-dimension std of raw actions in the training data."""

    def __post_init__(self) -> None:
        for name, klass in (("model", ModelConfig), ("sigreg", SIGRegConfig), ("train", TrainConfig)):
            if not isinstance(getattr(self, name), klass):  # a dict was an AttributeError on model.action_dim
                raise ValueError(f"{name} must be a {klass.__name__}, got {type(getattr(self, name)).__name__} "
                                 f"(build it with {klass.__name__}(**fields), or use LeWMConfig.from_dict)")
        for name in ("env", "preset"):  # env=5 was stored as the environment '5'
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name} must be a string, got {getattr(self, name)!r}")
        if self.env:  # one spelling per environment, whatever the data file or the user wrote
            object.__setattr__(self, "env", env_key(self.env))
        for name in ("action_mean", "action_std"):  # a numpy array: "truth value ... is ambiguous"
            object.__setattr__(self, name, number_tuple(name, getattr(self, name)))
        check_action_stats(self.action_mean, self.action_std, self.model.action_dim)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LeWMConfig":
        """Rebuild from ``to_dict`` output; unknown keys raise a clear error."""
        def build(klass, sub: dict[str, Any], where: str):
            known = {f.name for f in fields(klass)}
            unknown = set(sub) - known
            if unknown:
                raise ValueError(f"config section '{where}' has unknown field(s) {sorted(unknown)}")
            return klass(**sub)

        if not isinstance(d, dict):
            raise ValueError(f"the config must be a JSON object, got {type(d).__name__}")
        bad = [k for k in ("model", "sigreg", "train") if k in d and not isinstance(d[k], dict)]
        if bad:
            raise ValueError(f"config section '{bad[0]}' must be a JSON object, got {type(d[bad[0]]).__name__}")
        d = dict(d)
        model = build(ModelConfig, d.pop("model", {}), "model")
        sig = build(SIGRegConfig, d.pop("sigreg", {}), "sigreg")
        train = build(TrainConfig, d.pop("train", {}), "train")
        return build(cls, {**d, "model": model, "sigreg": sig, "train": train}, "top level")

    def with_overrides(self, **sections: dict[str, Any]) -> "LeWMConfig":
        """``cfg.with_overrides(model={"history": 1}, train={"lr": 1e-3})``."""
        # one replace for everything: checks that span sections (action stats vs model.action_dim)
        # see the finished config, not a half-updated one
        valid = [f.name for f in fields(self)]
        unknown = [k for k in sections if k not in valid]
        if unknown:  # was: AttributeError from getattr
            raise ValueError(f"with_overrides: unknown config section {unknown[0]!r}; valid: {', '.join(valid)}")
        for name, kv in sections.items():  # was: "ModelConfig.__init__() got an unexpected keyword argument"
            if isinstance(kv, dict) and not dataclasses.is_dataclass(getattr(self, name)):
                raise ValueError(f"with_overrides: {name!r} is a value, not a section of fields; pass {name}=value")
            if isinstance(kv, dict):
                unknown = sorted(set(kv) - {f.name for f in fields(getattr(self, name))}, key=str)
                if unknown:
                    raise ValueError(f"with_overrides: config section {name!r} has unknown field(s) {unknown}")
        new = {name: replace(getattr(self, name), **kv) if isinstance(kv, dict) else kv
               for name, kv in sections.items()}
        return replace(self, **new)


# ---------------------------------------------------------------------------------------------
# Presets: the only place where sizes are chosen.
# ---------------------------------------------------------------------------------------------
PRESETS: dict[str, LeWMConfig] = {
    # The paper's configuration (DESIGN §1): ViT-Tiny 224/14, predictor 6x(16x64), BN projectors.
    "paper": LeWMConfig(
        model=ModelConfig(),
        sigreg=SIGRegConfig(),
        train=TrainConfig(),
        preset="paper",
    ),
    # Learns a useful Two-Room model on a 2-core CPU in well under 30 minutes.
    "cpu-small": LeWMConfig(
        model=ModelConfig(
            image_size=64, patch_size=16, enc_dim=128, enc_depth=4, enc_heads=4, enc_mlp=512,
            latent_dim=64, proj_hidden=512, pred_dim=128, pred_depth=3, pred_heads=4,
            pred_dim_head=32, pred_mlp=512, dropout=0.0, history=3,
        ),
        sigreg=SIGRegConfig(num_proj=256),
        train=TrainConfig(lr=1e-3, weight_decay=1e-3, batch_size=64, steps=3000, warmup_steps=150,
                          ckpt_every=250),
        preset="cpu-small",
    ),
    # One GPU, minutes (scripts/gpu_train.sh): ViT-Tiny width at 64 px with 8-px patches (64 patches), a
    # narrower predictor, D = 32, the paper's predictor dropout 0.1. ~4.2M params: ~8 MB as fp16.
    "gpu-small": LeWMConfig(
        model=ModelConfig(
            image_size=64, patch_size=8, enc_dim=192, enc_depth=6, enc_heads=3, enc_mlp=768,
            latent_dim=32, proj_hidden=1024, pred_dim=128, pred_depth=4, pred_heads=4,
            pred_dim_head=32, pred_mlp=512, dropout=0.1, history=3,
        ),
        sigreg=SIGRegConfig(),
        train=TrainConfig(lr=5e-4, weight_decay=1e-3, batch_size=256, steps=200_000, warmup_steps=300,
                          ckpt_every=1000, log_every=50, ram_limit_gb=24.0),
        preset="gpu-small",
    ),
    # Trains in seconds: tests and smoke runs.
    "cpu-tiny": LeWMConfig(
        model=ModelConfig(
            image_size=32, patch_size=8, enc_dim=32, enc_depth=1, enc_heads=2, enc_mlp=64,
            latent_dim=16, proj_hidden=64, pred_dim=32, pred_depth=1, pred_heads=2,
            pred_dim_head=16, pred_mlp=64, dropout=0.0, history=2,
        ),
        sigreg=SIGRegConfig(num_proj=64),
        train=TrainConfig(lr=2e-3, batch_size=16, steps=50, warmup_steps=5, ckpt_every=25,
                          log_every=1),
        preset="cpu-tiny",
    ),
}


def get_preset(name: str) -> LeWMConfig:
    """Return the named preset or raise a ValueError listing the valid names."""
    if not isinstance(name, str):  # a list was "unhashable type: 'list'"
        raise TypeError(f"get_preset(name=...) must be a preset name (a string), one of {sorted(PRESETS)}, "
                        f"got {name!r:.60}")
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset '{name}'; choose one of {sorted(PRESETS)}") from None


def follow_data_image_size(cfg: "LeWMConfig", image_size: int, source: str,
                           pinned: bool = False) -> tuple["LeWMConfig", str | None]:
    """A preset follows its data's image size unless told otherwise.

    Returns ``(cfg, note)``: ``cfg`` with ``model.image_size = image_size`` and a one-line note
    saying so, or ``cfg`` unchanged and None when the sizes already agree or the size is
    ``pinned`` (``--set model.image_size=N``: then the data must match, checked with the data).
    Raises a ValueError naming both numbers when the preset's patch size does not divide the
    data's image size.
    """
    if not isinstance(cfg, LeWMConfig):
        raise TypeError(f"follow_data_image_size(cfg=...) must be a LeWMConfig, got {type(cfg).__name__}")
    if isinstance(image_size, bool) or not isinstance(image_size, numbers.Integral) or image_size < 1:
        # 'abc' was "invalid literal for int() with base 10"
        raise (ValueError if isinstance(image_size, numbers.Integral) else TypeError)(f"follow_data_image_size(image_size=...) must be a whole number >= 1 (the image side of "
                         f"{source}), got {image_size!r:.60}")
    mc = cfg.model
    if pinned or int(image_size) == mc.image_size:
        return cfg, None
    S, p = int(image_size), mc.patch_size
    if S % p:
        near = sorted((d for d in range(2, S) if S % d == 0), key=lambda d: (abs(d - p), d))[:2]
        hint = f" (e.g. {' or '.join(map(str, sorted(near)))})" if near else ""
        raise ValueError(f"{source}: images are {S}x{S} but model.patch_size {p} (preset {cfg.preset}) does not "
                         f"divide {S}; pass --set model.patch_size=N with N dividing {S}{hint}")
    return cfg.with_overrides(model={"image_size": S}), image_size_note(cfg, S, source)


def image_size_note(cfg: "LeWMConfig", image_size: int, source: str) -> str:
    """The one line a command prints when the preset's image size gives way to the data's."""
    return (f"model.image_size {cfg.model.image_size} -> {image_size}: the image size of {source} (preset "
            f"{cfg.preset}; --set model.image_size=N pins it)")


def apply_set_overrides(cfg: "LeWMConfig", items) -> "LeWMConfig":
    """Apply ``section.field=value`` strings to a config; values are parsed as the field's type.
    Unknown sections/fields or unparsable values raise a ValueError that names them."""
    pending: dict[str, dict] = {}
    if items is not None and (isinstance(items, (str, bytes)) or not isinstance(items, (list, tuple))):
        # a str was taken character by character ("--set 'm': expected SECTION.FIELD=VALUE")
        raise TypeError(f"apply_set_overrides(items=...) must be a list of 'SECTION.FIELD=VALUE' strings, "
                        f"got {items!r:.60}")
    for item in items or []:
        if not isinstance(item, str):  # 5 was an AttributeError on 'partition'
            raise TypeError(f"apply_set_overrides(items=...): each --set item must be a string "
                            f"'SECTION.FIELD=VALUE', got {item!r:.60}")
        key, sep, raw = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot:
            raise ValueError(f"--set {item!r}: expected SECTION.FIELD=VALUE, e.g. model.patch_size=8")
        if section not in ("model", "sigreg", "train"):
            raise ValueError(f"--set {item!r}: section must be model, sigreg or train, got {section!r}")
        sub = getattr(cfg, section)
        types = {f.name: type(f.default) for f in fields(sub)}
        if name not in types:
            raise ValueError(f"--set {item!r}: {section} has no field {name!r}; fields: {sorted(types)}")
        t = types[name]
        try:
            val = parse_bool(raw, f"--set {section}.{name}") if t is bool else t(raw.strip())
        except ValueError:
            if t is bool:
                raise
            kind = {int: "an integer", float: "a number"}.get(t, t.__name__)
            raise ValueError(f"--set {item!r}: {section}.{name} takes {kind}, got {raw!r}") from None
        before = pending.get(section, {}).get(name, val)
        if before != val and before == before:  # was: the last one won silently (NaN: refused below)
            raise ValueError(f"--set {section}.{name}={before} and --set {section}.{name}={val} give "
                             f"{section}.{name} two values; give it once")
        pending.setdefault(section, {})[name] = val
    # applied together, so the finished config is checked, not each step of the way (an image size
    # and a patch size that fit only together)
    return cfg.with_overrides(**pending) if pending else cfg


# how a run is driven, not what it optimises: changing these on a resume needs no note
_OPERATIONAL = {"steps", "time_budget_s", "num_workers", "compile", "precision", "log_every", "ckpt_every",
                "keep_snapshots", "ram_limit_gb"}


def changed_settings(saved: LeWMConfig, new: LeWMConfig) -> list[str]:
    """The optimisation settings (``train.*`` and ``sigreg.*``) in which ``new`` differs from the
    checkpoint's ``saved`` config, as ``'train.lr 0.0005 -> 0.00015'``. Resuming or continuing
    with other settings is allowed; the trainer prints these so it never happens silently."""
    for name, v in (("saved", saved), ("new", new)):  # a dict or None was an AttributeError on 'train'
        if not isinstance(v, LeWMConfig):
            raise TypeError(f"changed_settings({name}=...) must be a LeWMConfig, got {type(v).__name__}")
    out = []
    for section in ("train", "sigreg"):
        old_s, new_s = getattr(saved, section), getattr(new, section)
        for f in dataclasses.fields(old_s):
            a, b = getattr(old_s, f.name), getattr(new_s, f.name)
            if f.name not in _OPERATIONAL and a != b:
                out.append(f"{section}.{f.name} {a} -> {b}")
    return out
