"""The neural experts: compact PyTorch versions of six architectures, for classification.

Every network maps standardised features ``(B, F)`` to class logits ``(B, K)`` and is
trained by :class:`~.torch_base.TorchExpert`'s shared trainer.

* **MLP**: Linear-GELU-Dropout blocks with LayerNorm.
* **N-BEATS** (Oreshkin et al. 2019): a stack of fully connected blocks; each block
  reads the residual input, emits a *backcast* (its explanation of that input, subtracted
  before the next block) and a *forecast* (here: class logits, summed over blocks).
* **TiDE** (Das et al. 2023): dense residual blocks (Linear-ReLU-Linear-Dropout plus a
  linear skip, LayerNorm) for a feature projection, an encoder and a decoder, and a
  global linear skip from the input to the output.
* **TabNet** (Arik & Pfister 2019): sequential attention; at each decision step an
  attentive transformer turns the previous step's output into a sparse feature mask
  (sparsemax, scaled by a prior that discourages reusing features), GLU feature
  transformers (a shared and a step-specific part) process the masked input and split it
  into a decision part (summed over steps) and the next step's attention input; the
  masks' entropy is a sparsity penalty added to the loss.
* **KAN** (Liu et al. 2024): Kolmogorov-Arnold layers, each edge a learnable univariate
  function: a SiLU base term plus a combination of Gaussian radial basis functions on a
  fixed grid (the RBF form of the B-spline basis, as in FastKAN).
* **Transformer** (FT-Transformer, Gorishniy et al. 2021): every feature becomes a token
  (``x_i * W_i + b_i``), a learnable [CLS] token is prepended, pre-norm transformer
  encoder layers mix them, and the [CLS] output is classified. Beyond ``max_tokens``
  features (default 32) a learned linear projection first maps the features to
  ``max_tokens`` values, which become the tokens (attention is quadratic in tokens).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .torch_base import TorchExpert

# -- MLP -----------------------------------------------------------------------------------


class MLPNet(nn.Module):
    def __init__(self, n_in: int, n_out: int, hidden: Sequence[int], dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_in
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LayerNorm(h), nn.GELU(), nn.Dropout(dropout)]
            width = h
        layers.append(nn.Linear(width, n_out))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MLPExpert(TorchExpert):
    name = "mlp"
    NET = MLPNet
    ARCH = {"hidden": [128, 64], "dropout": 0.1}


# -- N-BEATS -------------------------------------------------------------------------------


class NBeatsBlock(nn.Module):
    def __init__(self, n_in: int, n_out: int, width: int, layers: int) -> None:
        super().__init__()
        fc: list[nn.Module] = []
        d = n_in
        for _ in range(layers):
            fc += [nn.Linear(d, width), nn.ReLU()]
            d = width
        self.fc = nn.Sequential(*fc)
        self.backcast = nn.Linear(width, n_in)
        self.forecast = nn.Linear(width, n_out)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.fc(x)
        return self.backcast(h), self.forecast(h)


class NBeatsNet(nn.Module):
    def __init__(self, n_in: int, n_out: int, blocks: int, width: int, layers: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(NBeatsBlock(n_in, n_out, width, layers) for _ in range(blocks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual, logits = x, 0.0
        for block in self.blocks:
            backcast, forecast = block(residual)
            residual = residual - backcast
            logits = logits + forecast
        return logits


class NBeatsExpert(TorchExpert):
    name = "nbeats"
    NET = NBeatsNet
    ARCH = {"blocks": 3, "width": 128, "layers": 3}
    TRAINER = {"learning_rate": 1e-3}


# -- TiDE ----------------------------------------------------------------------------------


class ResidualBlock(nn.Module):
    """TiDE's block: Linear-ReLU-Linear-Dropout plus a linear skip, then LayerNorm."""

    def __init__(self, n_in: int, hidden: int, n_out: int, dropout: float) -> None:
        super().__init__()
        self.dense = nn.Sequential(
            nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out), nn.Dropout(dropout)
        )
        self.skip = nn.Linear(n_in, n_out)
        self.norm = nn.LayerNorm(n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.dense(x) + self.skip(x))


class TiDENet(nn.Module):
    def __init__(
        self, n_in: int, n_out: int, projection: int, hidden: int, depth: int, dropout: float
    ) -> None:
        super().__init__()
        self.projection = ResidualBlock(n_in, hidden, projection, dropout)
        enc = [ResidualBlock(n_in + projection, hidden, hidden, dropout)]
        enc += [ResidualBlock(hidden, hidden, hidden, dropout) for _ in range(depth - 1)]
        self.encoder = nn.Sequential(*enc)
        dec = [ResidualBlock(hidden, hidden, hidden, dropout) for _ in range(depth - 1)]
        dec.append(ResidualBlock(hidden, hidden, n_out, dropout))
        self.decoder = nn.Sequential(*dec)
        self.global_skip = nn.Linear(n_in, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = torch.cat([x, self.projection(x)], dim=1)
        return self.decoder(self.encoder(z)) + self.global_skip(x)


class TiDEExpert(TorchExpert):
    name = "tide"
    NET = TiDENet
    ARCH = {"projection": 16, "hidden": 128, "depth": 2, "dropout": 0.1}


# -- TabNet --------------------------------------------------------------------------------


def sorted_descending(z: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``torch.sort(z, dim, descending=True).values``.

    Without autograd on the CPU (and outside an ONNX export) numpy sorts: torch's CPU sort
    of short rows is several times slower (``benchmarks/perf/bench_inference_parts.py``),
    and TabNet sorts three times per prediction. Sorting is exact, so both give the same
    values (for finite inputs; NaN is ordered differently)."""
    if z.device.type != "cpu" or torch.is_grad_enabled() or torch.onnx.is_in_onnx_export():
        return torch.sort(z, dim=dim, descending=True).values
    a = z.detach().numpy()
    return torch.from_numpy(-np.sort(-a, axis=dim))


def sparsemax(z: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Euclidean projection of ``z`` onto the probability simplex (Martins & Astudillo)."""
    z = z - z.max(dim=dim, keepdim=True).values
    zs = sorted_descending(z, dim)
    k = torch.arange(1, z.shape[dim] + 1, device=z.device, dtype=z.dtype)
    shape = [1] * z.dim()
    shape[dim] = -1
    k = k.view(shape)
    cumsum = zs.cumsum(dim)
    support = (1 + k * zs) > cumsum
    k_z = support.sum(dim=dim, keepdim=True).clamp_min(1)
    tau = (cumsum.gather(dim, k_z - 1) - 1) / k_z.to(z.dtype)
    return torch.clamp(z - tau, min=0.0)


class GLUBlock(nn.Module):
    """Linear-BatchNorm-GLU, with a sqrt(0.5)-scaled residual when shapes allow."""

    def __init__(self, n_in: int, n_out: int, residual: bool, shared: nn.Linear | None) -> None:
        super().__init__()
        self.fc = shared if shared is not None else nn.Linear(n_in, 2 * n_out, bias=False)
        self.bn = nn.BatchNorm1d(2 * n_out, momentum=0.05)
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = nn.functional.glu(self.bn(self.fc(x)), dim=-1)
        return (x + h) * 0.5**0.5 if self.residual else h


class FeatureTransformer(nn.Module):
    def __init__(self, n_in: int, width: int, shared: list[nn.Linear], n_own: int) -> None:
        super().__init__()
        blocks = []
        for i, fc in enumerate(shared):
            blocks.append(GLUBlock(n_in if i == 0 else width, width, i > 0, fc))
        for i in range(n_own):
            first = not shared and i == 0
            blocks.append(GLUBlock(n_in if first else width, width, not first, None))
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


class TabNetNet(nn.Module):
    def __init__(
        self, n_in: int, n_out: int, n_d: int, n_a: int, steps: int, gamma: float, sparsity: float
    ) -> None:
        super().__init__()
        self.n_d, self.steps, self.gamma, self.sparsity = n_d, steps, gamma, sparsity
        width = n_d + n_a
        shared = [nn.Linear(n_in, 2 * width, bias=False), nn.Linear(width, 2 * width, bias=False)]
        self.input_bn = nn.BatchNorm1d(n_in, momentum=0.05)
        self.initial = FeatureTransformer(n_in, width, shared, 2)
        self.transformers = nn.ModuleList(
            FeatureTransformer(n_in, width, shared, 2) for _ in range(steps)
        )
        self.attentive = nn.ModuleList(
            nn.Sequential(nn.Linear(n_a, n_in, bias=False), nn.BatchNorm1d(n_in, momentum=0.05))
            for _ in range(steps)
        )
        self.head = nn.Linear(n_d, n_out)
        self.aux_loss: torch.Tensor | float = 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_bn(x)
        prior = torch.ones_like(x)
        attention = self.initial(x)[:, self.n_d :]
        decision = torch.zeros(x.shape[0], self.n_d, device=x.device, dtype=x.dtype)
        entropy = x.new_zeros(())
        for transformer, attentive in zip(self.transformers, self.attentive, strict=True):
            mask = sparsemax(attentive(attention) * prior)
            prior = prior * (self.gamma - mask)
            entropy = entropy + (-mask * torch.log(mask + 1e-10)).sum(dim=1).mean()
            out = transformer(x * mask)
            decision = decision + torch.relu(out[:, : self.n_d])
            attention = out[:, self.n_d :]
        self.aux_loss = self.sparsity * entropy / self.steps if self.training else 0.0
        return self.head(decision)


class TabNetExpert(TorchExpert):
    name = "tabnet"
    NET = TabNetNet
    ARCH = {"n_d": 16, "n_a": 16, "steps": 3, "gamma": 1.3, "sparsity": 1e-4}
    TRAINER = {"learning_rate": 1e-2, "min_batch_size": 64}


# -- KAN -----------------------------------------------------------------------------------


class KANLayer(nn.Module):
    """``y_j = sum_i phi_ij(x_i)`` with ``phi_ij(x) = a_ij silu(x) + sum_g c_ijg rbf_g(x)``."""

    def __init__(self, n_in: int, n_out: int, grid: int, span: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(n_in)
        self.register_buffer("centers", torch.linspace(-span, span, grid))
        self.inv_width = (grid - 1) / (2 * span)
        self.spline = nn.Linear(n_in * grid, n_out, bias=False)
        nn.init.normal_(self.spline.weight, std=0.1 / (n_in * grid) ** 0.5)
        self.base = nn.Linear(n_in, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.norm(x)
        return self.spline(self.basis(z).flatten(1)) + self.base(nn.functional.silu(x))

    def basis(self, z: torch.Tensor) -> torch.Tensor:
        """``exp(-((z - c_g) * inv_width) ** 2)`` for every grid centre ``c_g``: (B, F, G).

        Without autograd the steps run in place on one buffer: each step of the plain
        expression allocates a fresh (B, F, G) tensor (3.2 MB at 1,000 x 100 x 8; timed
        side by side in ``benchmarks/perf/bench_inference_parts.py``)."""
        d = z.unsqueeze(-1) - self.centers
        if torch.is_grad_enabled() or torch.onnx.is_in_onnx_export():
            return torch.exp(-((d * self.inv_width) ** 2))
        return d.mul_(self.inv_width).square_().neg_().exp_()


class KANNet(nn.Module):
    def __init__(
        self, n_in: int, n_out: int, hidden: Sequence[int], grid: int, span: float
    ) -> None:
        super().__init__()
        sizes = [n_in, *hidden, n_out]
        self.layers = nn.Sequential(
            *(KANLayer(a, b, grid, span) for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class KANExpert(TorchExpert):
    name = "kan"
    NET = KANNet
    ARCH = {"hidden": [32], "grid": 8, "span": 2.0}


# -- FT-Transformer ------------------------------------------------------------------------


class FTTransformerNet(nn.Module):
    """FT-Transformer; with ``max_tokens`` below ``n_in``, a token budget.

    Attention costs grow with the square of the number of tokens, so wide inputs are
    first mapped by a learned linear projection ``n_in -> max_tokens`` and the
    per-token tokenizer applies to the projected values. With ``n_in <= max_tokens`` (or
    ``max_tokens`` None or 0) there is no projection: one token per feature, and the
    parameters and state-dict keys are those of the network without a budget.

    The projection's output is multiplied by ``PROJECTION_GAIN`` (kept with the weights
    as the buffer ``projection_gain``) and its raw weights start that much smaller:
    under Adam, whose steps do not scale with the gradient, that trains the projection
    at that multiple of the network's learning rate. At the transformer's 1e-3 a plain
    projection barely moved from its random start in a few hundred steps (validation
    stuck near the prior on a 120-feature synthetic set) while the rest of the network
    needs the small rate.
    """

    PROJECTION_GAIN = 30.0

    def __init__(
        self,
        n_in: int,
        n_out: int,
        d_token: int,
        heads: int,
        layers: int,
        ff: int,
        dropout: float,
        max_tokens: int | None = None,
    ) -> None:
        super().__init__()
        n_tokens = n_in
        self.projection: nn.Linear | None = None
        if max_tokens and n_in > max_tokens:
            n_tokens = int(max_tokens)
            # unit-variance outputs (after the gain) on standardised inputs
            self.projection = nn.Linear(n_in, n_tokens)
            nn.init.normal_(self.projection.weight, std=n_in**-0.5 / self.PROJECTION_GAIN)
            nn.init.zeros_(self.projection.bias)
            self.register_buffer("projection_gain", torch.tensor(self.PROJECTION_GAIN))
        self.tokens_per_sample = n_tokens + 1
        self.weight = nn.Parameter(torch.randn(n_tokens, d_token) / d_token**0.5)
        self.bias = nn.Parameter(torch.zeros(n_tokens, d_token))
        self.cls = nn.Parameter(torch.randn(1, 1, d_token) / d_token**0.5)
        layer = nn.TransformerEncoderLayer(
            d_token, heads, ff, dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Sequential(nn.LayerNorm(d_token), nn.ReLU(), nn.Linear(d_token, n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.projection is not None:
            x = self.projection(x) * self.projection_gain
        tokens = x.unsqueeze(-1) * self.weight + self.bias  # (B, T, d)
        tokens = torch.cat([self.cls.expand(x.shape[0], -1, -1), tokens], dim=1)
        if self.training:
            return self.head(self.encoder(tokens)[:, 0])
        return self.head(self.cls_output(tokens))

    def cls_output(self, h: torch.Tensor) -> torch.Tensor:
        """The encoder's output at [CLS] without dropout (what ``self.encoder`` gives in
        eval mode), the last layer computed for [CLS] alone.

        Only [CLS] is classified, and in the last layer no other token's output reaches
        it: its attention still reads every token's keys and values, but the other
        tokens' queries, attention, projection and feed-forward are skipped: at the
        default size (33 tokens, 2 layers) 40% of the arithmetic (timed against the full
        encoder in ``benchmarks/perf/bench_inference_parts.py``)."""
        layers = self.encoder.layers
        for i, layer in enumerate(layers):
            z = layer.norm1(h)
            if i == len(layers) - 1:
                h = h[:, :1] + multi_head_attention(layer.self_attn, z[:, :1], z)
            else:
                h = h + multi_head_attention(layer.self_attn, z, z)
            h = h + layer.linear2(layer.activation(layer.linear1(layer.norm2(h))))
        if self.encoder.norm is not None:
            h = self.encoder.norm(h)
        return h[:, 0]


def multi_head_attention(
    attn: nn.MultiheadAttention, query: torch.Tensor, tokens: torch.Tensor
) -> torch.Tensor:
    """``attn(query, tokens, tokens)`` in eval mode (batch first, no mask), for any number
    of queries: the packed input projection split by rows, scaled dot-product attention
    per head, the output projection."""
    d, heads = attn.embed_dim, attn.num_heads
    w, b = attn.in_proj_weight, attn.in_proj_bias
    q = nn.functional.linear(query, w[:d], b[:d])
    k, v = nn.functional.linear(tokens, w[d:], b[d:]).split(d, dim=-1)

    def per_head(t: torch.Tensor) -> torch.Tensor:  # (B, T, d) -> (B, heads, T, d / heads)
        return t.unflatten(-1, (heads, d // heads)).transpose(1, 2)

    out = nn.functional.scaled_dot_product_attention(per_head(q), per_head(k), per_head(v))
    return attn.out_proj(out.transpose(1, 2).flatten(2))


class TransformerExpert(TorchExpert):
    name = "transformer"
    NET = FTTransformerNet
    ARCH = {
        "d_token": 32,
        "heads": 4,
        "layers": 2,
        "ff": 64,
        "dropout": 0.1,
        "max_tokens": 32,
    }
    TRAINER = {"learning_rate": 1e-3, "max_epochs": 40}

    def _module_for_state(self, state: dict[str, torch.Tensor]) -> nn.Module:
        """The architecture the saved weights belong to: the token budget is read from
        the projection's shape, and weights without a projection (saved before the
        budget existed, or narrow inputs) get one token per feature."""
        assert self.n_features is not None and self.n_classes is not None
        hp = self.hparams()
        projection = state.get("projection.weight")
        hp["max_tokens"] = None if projection is None else int(projection.shape[0])
        return self.build(self.n_features, self.n_classes, hp)


NEURAL_EXPERTS: tuple[type[TorchExpert], ...] = (
    MLPExpert,
    NBeatsExpert,
    TiDEExpert,
    TabNetExpert,
    KANExpert,
    TransformerExpert,
)
