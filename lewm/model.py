"""LeWorldModel: ViT encoder (:mod:`lewm.vit`) -> BN projector -> z_t; action-conditioned causal predictor.

Shape letters used in comments: B batch, T time (frames), N candidates, P plan steps,
L tokens, D latent dim, E encoder width, W predictor width, K action-block dim (frameskip * A),
C channels, S image side.

Parameter names mirror the official LeWM checkpoints: Hugging Face ViT names in the encoder
(``encoder.embeddings.*``, ``encoder.encoder.layer.N.*``), ``predictor.transformer.layers.N.{attn,
mlp,adaLN_modulation}``, ``projector.net.{0,1,3}``, ``pred_proj.net.{0,1,3}`` and
``action_encoder.{patch_embed,embed.0,embed.2}``. Inputs are checked in :mod:`lewm.model_inputs`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .attention import attention
from .config import ModelConfig
from .vit import ViTEncoder, sincos_2d  # noqa: F401  (sincos_2d: lewm.model's name since session 1)
from ._lean_rollout import FEW_KEYS, few_key_attention, lean_rollout, single_frame_attention
from .model_inputs import (check_action_blocks, check_context, check_frames, check_latents, check_model_config,
                           check_pixels, check_rollout_flags, check_train_rows, flag, refuse_nonfinite)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# ---------------------------------------------------------------------------------------------
# Projector (BatchNorm MLP), action encoder.
# ---------------------------------------------------------------------------------------------
class Projector(nn.Module):
    """Linear -> BatchNorm1d -> GELU -> Linear, applied to (..., d_in) by flattening leading dims."""

    def __init__(self, d_in: int, d_hidden: int, d_out: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_in, d_hidden), nn.BatchNorm1d(d_hidden), nn.GELU(),
                                 nn.Linear(d_hidden, d_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        return self.net(x.reshape(-1, x.shape[-1])).reshape(*lead, -1)  # (..., d_out)


class ActionEncoder(nn.Module):
    """Frameskip-blocked actions (B, T, K) -> per-frame embeddings (B, T, W)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.patch_embed = nn.Conv1d(cfg.action_block_dim, cfg.action_hidden, kernel_size=1)
        self.embed = nn.Sequential(nn.Linear(cfg.action_hidden, 4 * cfg.pred_dim), nn.SiLU(),
                                   nn.Linear(4 * cfg.pred_dim, cfg.pred_dim))

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        h = self.patch_embed(a.transpose(1, 2)).transpose(1, 2)  # (B, T, action_hidden)
        return self.embed(h)  # (B, T, W)


# ---------------------------------------------------------------------------------------------
# Predictor: causal transformer with per-frame AdaLN-zero conditioning.
# ---------------------------------------------------------------------------------------------
def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """AdaLN modulation: x * (1 + scale) + shift (all (B, T, W))."""
    return x * (1 + scale) + shift


class _CausalAttention(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int, dropout: float):
        super().__init__()
        self.heads, self.dim_head, self.dropout = heads, dim_head, dropout
        self.norm = nn.LayerNorm(dim)
        self.to_qkv = nn.Linear(dim, 3 * heads * dim_head, bias=False)
        self.to_out = nn.Sequential(nn.Linear(heads * dim_head, dim), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor, last_only: bool = False, prefix_kv=None, keep_kv: list | None = None,
                lean: bool = False) -> torch.Tensor:
        """x (B, T, W) -> (B, T, W); with ``last_only`` just the last position's output (B, 1, W),
        which attends to every position (the causal mask is then all ones). ``lean``: the planning
        rollout's inference shortcuts (below); the reference path keeps the plain computation.

        ``prefix_kv``: keys and values (each (1 or B, h, S, dh)) of S earlier positions that every
        position here follows: a context shared by all B rows, computed once (``LeWM._lean_rollout``);
        ``keep_kv``: a list that receives this call's own (keys, values)."""
        B, T, _ = x.shape
        if lean and T == 1 and prefix_kv is None and keep_kv is None and not torch.is_grad_enabled():
            return single_frame_attention(self, x)  # (B, 1, W): one frame sees only itself (exact)
        qkv = self.to_qkv(self.norm(x)).view(B, T, 3, self.heads, self.dim_head)  # (B, T, 3, h, dh)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, h, T, dh)
        if keep_kv is not None:
            keep_kv.append((k, v))
        S, mask = 0, None
        if prefix_kv is not None:
            kp, vp = prefix_kv  # (1 or B, h, S, dh)
            S = kp.shape[2]
            k, v = (torch.cat([p.expand(B, -1, -1, -1), t], dim=2) for p, t in ((kp, k), (vp, v)))  # (B, h, S+T, dh)
        if last_only:
            q, causal = q[:, :, -1:], False  # (B, h, 1, dh)
        elif S:  # position i of this call is position S+i of the sequence: it sees keys 0..S+i
            mask, causal = torch.ones(T, S + T, dtype=torch.bool, device=x.device).tril(S), False  # (T, S+T)
        else:
            causal = True
        if S + T == 1 and not (self.training and self.dropout > 0):
            o = v  # (B, h, 1, dh): one frame attends only to itself, the softmax is 1 (exact, and ~12% of a CPU plan)
        elif lean and torch.compiler.is_compiling() and S + T <= FEW_KEYS and not torch.is_grad_enabled():
            o = few_key_attention(q, k, v, attn_mask=mask, is_causal=causal)  # (B, h, Tq, dh): fused when compiled
        else:
            o = attention(q, k, v, attn_mask=mask, is_causal=causal,
                          dropout_p=self.dropout if self.training else 0.0)  # (B, h, Tq, dh)
        Tq = o.shape[2]  # 2-D for to_out: inductor lowers a (B, 1, h*dh) input to a slow decomposed bmm
        return self.to_out(o.transpose(1, 2).reshape(B * Tq, -1)).view(B, Tq, -1)  # (B, Tq, W)


class _FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, hidden), nn.GELU(),
                                 nn.Dropout(dropout), nn.Linear(hidden, dim), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class AdaLNBlock(nn.Module):
    """Transformer block whose norms are shifted/scaled/gated by the frame's action embedding.

    The modulation layer is zero-initialised, so a fresh block is the identity (DiT's AdaLN-zero).
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        W = cfg.pred_dim
        self.norm1 = nn.LayerNorm(W, elementwise_affine=False, eps=1e-6)
        self.norm2 = nn.LayerNorm(W, elementwise_affine=False, eps=1e-6)
        self.attn = _CausalAttention(W, cfg.pred_heads, cfg.pred_dim_head, cfg.dropout)
        self.mlp = _FeedForward(W, cfg.pred_mlp, cfg.dropout)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(W, 6 * W))
        nn.init.zeros_(self.adaLN_modulation[1].weight)
        nn.init.zeros_(self.adaLN_modulation[1].bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None, mod: torch.Tensor | None = None,
                last_only: bool = False, prefix_kv=None, keep_kv: list | None = None, lean: bool = False
                ) -> torch.Tensor:
        """x (B, T, W), action embeddings c (B, T, W) -> (B, T, W). ``mod``: the modulation
        ``adaLN_modulation(c)`` (B, T, 6W) computed beforehand (a rollout reuses it across steps);
        ``last_only``: return only the last position (B, 1, W); ``prefix_kv`` / ``keep_kv``: see
        ``_CausalAttention``."""
        mod = self.adaLN_modulation(c) if mod is None else mod  # (B, T, 6W)
        s1, sc1, g1, s2, sc2, g2 = mod.chunk(6, dim=-1)  # 6 x (B, T, W)
        h = self.attn(modulate(self.norm1(x), s1, sc1), last_only=last_only, prefix_kv=prefix_kv,
                      keep_kv=keep_kv, lean=lean)  # (B, T or 1, W)
        if last_only:
            x, g1, s2, sc2, g2 = (t[:, -1:] for t in (x, g1, s2, sc2, g2))  # the last position only
        x = x + g1 * h  # (B, T, W)
        return x + g2 * self.mlp(modulate(self.norm2(x), s2, sc2))  # (B, T, W)


class _Transformer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.layers = nn.ModuleList(AdaLNBlock(cfg) for _ in range(cfg.pred_depth))
        self.norm = nn.LayerNorm(cfg.pred_dim)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None, mods: list[torch.Tensor] | None = None,
                last_only: bool = False, prefix_kvs: list | None = None, keep_kvs: list | None = None,
                lean: bool = False) -> torch.Tensor:
        """``mods``: per-layer modulations (see ``AdaLNBlock``); ``last_only``: the last layer
        computes (and the stack returns) only the last position (B, 1, W); ``prefix_kvs`` /
        ``keep_kvs``: per-layer shared-context keys and values (see ``_CausalAttention``)."""
        n = len(self.layers)
        for i, blk in enumerate(self.layers):
            x = blk(x, c, None if mods is None else mods[i], last_only=last_only and i == n - 1,
                    prefix_kv=None if prefix_kvs is None else prefix_kvs[i], keep_kv=keep_kvs, lean=lean)
        return self.norm(x)


class Predictor(nn.Module):
    """Causal AR predictor: output at position t predicts the latent of frame t+1."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        W, D = cfg.pred_dim, cfg.latent_dim
        self.pos_embedding = nn.Parameter(torch.randn(1, cfg.history, W) * 0.02)
        self.input_proj = nn.Linear(D, W) if D != W else nn.Identity()
        self.output_proj = nn.Linear(W, D) if D != W else nn.Identity()
        self.dropout = nn.Dropout(cfg.emb_dropout)
        self.transformer = _Transformer(cfg)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None, mods: list[torch.Tensor] | None = None,
                last_only: bool = False, prefix_kvs: list | None = None, keep_kvs: list | None = None,
                lean: bool = False) -> torch.Tensor:
        """z (B, T, D), action embeddings c (B, T, W) -> (B, T, D) (``last_only``: (B, 1, D)).
        ``lean``: the planning rollout's inference shortcuts (``_CausalAttention``).
        ``prefix_kvs``: per-layer keys/values of S earlier frames (then z holds frames S..S+T-1);
        ``keep_kvs``: a list that receives every layer's (keys, values) (see ``_CausalAttention``)."""
        S, T = (0 if prefix_kvs is None else prefix_kvs[0][0].shape[2]), z.shape[1]
        if S + T > self.pos_embedding.shape[1]:
            raise ValueError(f"predictor context is {self.pos_embedding.shape[1]} frames, got {S + T}")
        x = self.dropout(self.input_proj(z) + self.pos_embedding[:, S:S + T])  # (B, T, W)
        return self.output_proj(self.transformer(x, c, mods, last_only, prefix_kvs, keep_kvs, lean))  # (B, T or 1, D)


# ---------------------------------------------------------------------------------------------
# The world model.
# ---------------------------------------------------------------------------------------------
class LeWM(nn.Module):
    """Encoder + projector -> z; action encoder + predictor + pred_proj -> next z."""

    def __init__(self, cfg: ModelConfig):
        check_model_config("LeWM", "cfg", cfg)  # a LeWMConfig was "no attribute 'enc_dim'"
        super().__init__()
        self.cfg = cfg
        self.encoder = ViTEncoder(cfg)
        self.projector = Projector(cfg.enc_dim, cfg.proj_hidden, cfg.latent_dim)
        self.action_encoder = ActionEncoder(cfg)
        self.predictor = Predictor(cfg)
        self.pred_proj = Projector(cfg.latent_dim, cfg.proj_hidden, cfg.latent_dim)
        self.register_buffer("pixel_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    # -- helpers ---------------------------------------------------------------------------------
    def num_params(self, trainable_only: bool = True) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def normalize_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 (..., 3, S, S) -> ImageNet-normalised float; float input is returned as is (other dtypes and
        channels-last frames are refused)."""
        pixels = check_frames(pixels, self.cfg.image_size, "..., ", None)
        if pixels.dtype == torch.uint8:
            x = pixels.to(self.pixel_mean.dtype) / 255.0
            return (x - self.pixel_mean) / self.pixel_std
        return pixels

    # -- the three public operations ---------------------------------------------------------------
    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        """pixels (B, T, 3, S, S) -> z (B, T, D).

        uint8 pixels are scaled and ImageNet-normalised here; float pixels are taken as already
        normalised (the official checkpoints' convention).
        """
        pixels = check_pixels(pixels, self.cfg.image_size, self.pixel_mean.dtype, self.pixel_mean)
        B, T = pixels.shape[:2]
        check_train_rows("encode", "pixels", pixels.shape, B * T, self.projector.net[1])
        x = self.normalize_pixels(pixels.flatten(0, 1))  # (B*T, 3, S, S)
        h = self.encoder(x)  # (B*T, E)
        return self.projector(h).view(B, T, -1)  # (B, T, D)

    def predict(self, z: torch.Tensor, actions: torch.Tensor, check_finite: bool = True) -> torch.Tensor:
        """z (B, T, D), action blocks (B, T, K) -> predicted next latents (B, T, D).

        Output t is the prediction of z_{t+1} from z_{<=t} and a_{<=t} (causal). ``check_finite``: refuse
        NaN/inf inputs (a device sync; the training loss turns it off and checks its loss instead).
        """
        ref = self.pixel_mean  # the weights' dtype and device
        z = check_latents(z, self.cfg.latent_dim, ref.dtype, weights=ref)
        actions = check_action_blocks(actions, self.cfg.action_block_dim, ref.dtype, weights=ref)
        if actions.shape[:2] != z.shape[:2]:
            raise ValueError(f"z {tuple(z.shape)} and actions {tuple(actions.shape)} disagree on (B, T)")
        if flag("predict", "check_finite", check_finite):
            refuse_nonfinite("predict", z=z, actions=actions)
        check_train_rows("predict", "z", z.shape, z.shape[0] * z.shape[1], self.pred_proj.net[1])
        return self._predict(z, actions)

    def _predict(self, z: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``predict`` of checked inputs."""
        c = self.action_encoder(actions)  # (B, T, W)
        h = self.predictor(z, c)  # (B, T, D)
        return self.pred_proj(h)  # (B, T, D)

    def rollout(self, z_hist: torch.Tensor, action_blocks: torch.Tensor,
                act_hist: torch.Tensor | None = None, lean: bool = True, check_finite: bool = True) -> torch.Tensor:
        """Autoregressive imagination, batched over N candidate action sequences.

        z_hist: (B, H0, D) encoded context (B = 1 or N; encoded once, never re-encoded).
        action_blocks: (N, P, K) candidate action blocks to apply after the last context frame.
        act_hist: (B, H0-1, K) actions taken between the context frames (None when H0 == 1).
        Returns the imagined latents (N, P, D) of the frames after each block.
        The context window slides and keeps at most ``history`` frames. In eval mode with ``lean``
        (the default) the shared work is done once (``_lean_rollout``); ``lean=False`` is the plain
        loop over ``predict`` windows (the reference the benchmarks compare against). ``check_finite``: refuse
        NaN/inf inputs (one device sync a call: a caller in a loop, such as planning's cost, passes False).
        """
        lean, check_finite = check_rollout_flags(lean, check_finite)
        ref = getattr(self, "pixel_mean", None)  # the weights' dtype and device (a duck-typed test model has none)
        dt = torch.float32 if ref is None else ref.dtype
        z_hist = check_latents(z_hist, self.cfg.latent_dim, dt, "z_hist", ref)
        action_blocks = check_action_blocks(action_blocks, self.cfg.action_block_dim, dt, "action_blocks", weights=ref)
        if act_hist is not None:
            act_hist = check_action_blocks(act_hist, self.cfg.action_block_dim, dt, "act_hist", True, ref)
            if act_hist.shape[1] != z_hist.shape[1] - 1:
                raise ValueError(f"act_hist: expected one action block between each two of the {z_hist.shape[1]} "
                                 f"context frames ({z_hist.shape[1] - 1}), got {act_hist.shape[1]}")
        if check_finite:
            refuse_nonfinite("rollout", z_hist=z_hist, action_blocks=action_blocks, act_hist=act_hist)
        N, P, K = action_blocks.shape
        H = self.cfg.history
        if lean and not self.training:
            return self._lean_rollout(*self.context_window(z_hist, act_hist, action_blocks), action_blocks)
        z, a_prev = self.rollout_window(z_hist, act_hist, action_blocks)
        if hasattr(self, "pred_proj"):  # a duck-typed test model has none
            check_train_rows("rollout", "z_hist", z_hist.shape, z.shape[0] * z.shape[1], self.pred_proj.net[1])
        step = getattr(self, "_predict", self.predict)  # inputs checked above (a duck-typed model: its predict)
        out = []
        for p in range(P):
            a = torch.cat([a_prev, action_blocks[:, p:p + 1]], dim=1)  # (N, w, K)
            z_next = step(z, a)[:, -1:]  # (N, 1, D)
            out.append(z_next)
            z = torch.cat([z, z_next], dim=1)[:, -H:]  # (N, <=H, D)
            a_prev = a[:, -(H - 1):] if H > 1 else a[:, :0]  # (N, <=H-1, K)
        return torch.cat(out, dim=1)  # (N, P, D)

    def rollout_window(self, z_hist: torch.Tensor, act_hist: torch.Tensor | None,
                       action_blocks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The context as every candidate sees it: z_hist (1 or N, H0, D), act_hist (1 or N, H0-1, K)
        or None, action_blocks (N, P, K) -> (z (N, <=H, D), a_prev (N, <=H-1, K)), the last ``history``
        frames and the actions between them."""
        N = action_blocks.shape[0]
        z, a_prev = self.context_window(z_hist, act_hist, action_blocks)  # (B, w, D), (B, w-1, K)
        return z.expand(N, -1, -1), a_prev.expand(N, -1, -1)

    def context_window(self, z_hist: torch.Tensor, act_hist: torch.Tensor | None,
                       action_blocks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``rollout_window`` before the broadcast to N candidates: (z (B, <=H, D), a_prev (B, <=H-1, K))
        with B = 1 when the context is common to all candidates (a plan's), else N."""
        N, _, K = action_blocks.shape
        H = self.cfg.history
        check_context(z_hist, act_hist)
        if act_hist is None:
            act_hist = action_blocks.new_zeros(z_hist.shape[0], z_hist.shape[1] - 1, K)
        B = max(z_hist.shape[0], act_hist.shape[0])
        if {z_hist.shape[0], act_hist.shape[0]} - {1, N}:
            raise ValueError(f"context batch must be 1 or the {N} candidates: z_hist {tuple(z_hist.shape)}, "
                             f"act_hist {tuple(act_hist.shape)}")
        z, a_prev = z_hist.expand(B, -1, -1), act_hist.expand(B, -1, -1)  # (B, H0, D), (B, H0-1, K)
        return z[:, -H:], a_prev[:, max(0, a_prev.shape[1] - H + 1):]

    def _lean_rollout(self, z: torch.Tensor, a_prev: torch.Tensor, action_blocks: torch.Tensor) -> torch.Tensor:
        """``rollout`` in eval mode with the shared work done once (:func:`lewm._lean_rollout.lean_rollout`):
        z (B, w, D), a_prev (B, w-1, K) with B = 1 or N, action_blocks (N, P, K) -> (N, P, D). No input checks
        (``rollout`` and the compiled planning cost check or build its inputs)."""
        return lean_rollout(self, z, a_prev, action_blocks)


def build_model(cfg: ModelConfig) -> LeWM:
    check_model_config("build_model", "cfg", cfg)
    return LeWM(cfg)


def parameter_count(mc: ModelConfig) -> int:
    """Parameters of a LeWM with config ``mc``, counted on the meta device (nothing is allocated:
    a model too large for the machine is measured before it is built)."""
    check_model_config("parameter_count", "mc", mc)
    with torch.device("meta"):
        return sum(p.numel() for p in LeWM(mc).parameters())
