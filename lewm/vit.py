"""The encoder: a vision transformer from scratch with Hugging Face's module names (``embeddings.*``,
``encoder.layer.N.*``, ``layernorm``), so that official LeWM weights load into it unchanged; it returns the
last layer's CLS token after the final LayerNorm. Shape letters as in :mod:`lewm.model`."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import _cpu_bf16 as cpu_bf16
from .attention import attention
from .config import ModelConfig


def sincos_2d(grid: int, dim: int, freq_scale: float = 1.0) -> torch.Tensor:
    """Fixed 2-D sine-cosine position codes (grid*grid, dim): half the channels encode the row,
    half the column, each with sin/cos at geometrically spaced frequencies (the fastest
    ``freq_scale`` rad per patch)."""
    q = dim // 4
    omega = freq_scale / 10000 ** (torch.arange(q, dtype=torch.float64) / max(q, 1))  # (q,)
    ys, xs = torch.meshgrid(torch.arange(grid, dtype=torch.float64), torch.arange(grid, dtype=torch.float64), indexing="ij")
    out = [f(c.reshape(-1, 1) * omega) for c in (ys, xs) for f in (torch.sin, torch.cos)]  # 4 x (L, q)
    pe = torch.cat(out, dim=1)  # (L, 4q)
    if pe.shape[1] < dim:
        pe = torch.cat([pe, pe.new_zeros(pe.shape[0], dim - pe.shape[1])], dim=1)
    return pe.float()  # (L, E)


class _PatchEmbeddings(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.projection = nn.Conv2d(3, cfg.enc_dim, cfg.patch_size, stride=cfg.patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if cpu_bf16.training(x) and x.shape[-1] % self.projection.stride[0] == 0:  # as a matmul (lewm/_cpu_bf16.py)
            return cpu_bf16.patch_embed(x, self.projection)  # (B, L, E)
        return self.projection(x).flatten(2).transpose(1, 2)  # (B, L, E)


class _Embeddings(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.enc_dim))
        self.position_embeddings = nn.Parameter(torch.zeros(1, cfg.num_patches + 1, cfg.enc_dim))
        self.patch_embeddings = _PatchEmbeddings(cfg)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        if cfg.pos_init == "sincos":
            g = cfg.image_size // cfg.patch_size
            with torch.no_grad():
                self.position_embeddings[0, 1:] = sincos_2d(g, cfg.enc_dim, cfg.pos_freq_scale)  # CLS position stays 0
        else:
            nn.init.trunc_normal_(self.position_embeddings, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.patch_embeddings(x)  # (B, L, E)
        cls = self.cls_token.expand(p.shape[0], -1, -1)  # (B, 1, E)
        return torch.cat([cls, p], dim=1) + self.position_embeddings  # (B, L+1, E)


class _SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, E = x.shape
        q, k, v = (m(x).view(B, L, self.heads, E // self.heads).transpose(1, 2)
                   for m in (self.query, self.key, self.value))  # (B, h, L, E/h)
        o = attention(q, k, v)  # (B, h, L, E/h)
        return o.transpose(1, 2).reshape(B, L, E)  # (B, L, E)


class _Dense(nn.Module):
    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.dense = nn.Linear(d_in, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense(x)


class _Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.attention = _SelfAttention(dim, heads)
        self.output = _Dense(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.attention(x))


class _ViTLayer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        E = cfg.enc_dim
        self.layernorm_before = nn.LayerNorm(E, eps=1e-12)
        self.attention = _Attention(E, cfg.enc_heads)
        self.layernorm_after = nn.LayerNorm(E, eps=1e-12)
        self.intermediate = _Dense(E, cfg.enc_mlp)
        self.output = _Dense(cfg.enc_mlp, E)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.layernorm_before(x))  # (B, L, E)
        return x + self.output(F.gelu(self.intermediate(self.layernorm_after(x))))  # (B, L, E)


class _ViTStack(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.layer = nn.ModuleList(_ViTLayer(cfg) for _ in range(cfg.enc_depth))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for blk in self.layer:
            x = blk(x)
        return x


class ViTEncoder(nn.Module):
    """Vision transformer from scratch; returns the last-layer CLS token after the final LN."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.embeddings = _Embeddings(cfg)
        self.encoder = _ViTStack(cfg)
        self.layernorm = nn.LayerNorm(cfg.enc_dim, eps=1e-12)
        self.image_size = cfg.image_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            raise ValueError(f"encoder expects {self.image_size}x{self.image_size} images, "
                             f"got {tuple(x.shape[-2:])}")
        h = self.encoder(self.embeddings(x))  # (B, L+1, E)
        return self.layernorm(h[:, 0])  # (B, E)
