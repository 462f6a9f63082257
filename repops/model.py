"""The tiny policy: a character-level GPT built only from RepOps modules and functional ops.

B = batch rows, T = positions, C = d_model, H = heads, D = C // H head width, V = vocabulary.
Every float op goes through repops (bit-reproducible, traced); only views (reshape, transpose,
slicing) and integer index bookkeeping use torch directly: they move bits, never round.
Parameters are initialised from the counter RNG, so a seed gives the same model on any device.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from repops import functional as F
from repops import nn, rng
from repops.errors import RepOpsError

# Vocabulary: 0 = end of text, 1 = newline, then printable ASCII 32..126.
EOS = 0
CHARSET = "\x00\n" + "".join(chr(c) for c in range(32, 127))
_INDEX = {ch: i for i, ch in enumerate(CHARSET)}
ACTIVATIONS = ("relu", "gelu")


def encode(text: str) -> list[int]:
    try:
        return [_INDEX[ch] for ch in text]
    except KeyError as exc:
        raise RepOpsError("bad_text", f"character {exc.args[0]!r} is not in the policy's vocabulary") from None


def decode(tokens) -> str:
    """Token ids to text, stopping at the first EOS."""
    out = []
    for t in (tokens.tolist() if isinstance(tokens, torch.Tensor) else tokens):
        if t == EOS:
            break
        out.append(CHARSET[t])
    return "".join(out)


@dataclass(frozen=True)
class PolicyConfig:
    vocab_size: int = len(CHARSET)  # 97
    context: int = 64  # longest sequence the position table covers
    d_model: int = 64
    n_layer: int = 2
    n_head: int = 4
    d_mlp: int = 256
    # The MLP's activation. "relu" (maximum(x, +0), an exact select) is the default: GELU's
    # binary64 exp program costs more than the rest of the MLP. "gelu" is the tanh form.
    activation: str = "relu"

    def __post_init__(self) -> None:
        if min(self.vocab_size, self.context, self.d_model, self.n_layer, self.n_head, self.d_mlp) < 1:
            raise RepOpsError("bad_config", "every size must be positive")
        if self.d_model % self.n_head:
            raise RepOpsError("bad_config", "d_model must be a multiple of n_head")
        if self.activation not in ACTIVATIONS:
            raise RepOpsError("bad_config", f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")

    @classmethod
    def from_dict(cls, data: dict) -> "PolicyConfig":
        """From asdict() output. A config written before `activation` existed was a GELU
        model, so a missing key means "gelu", not today's default."""
        return cls(**{"activation": "gelu", **data})


class CausalSelfAttention(torch.nn.Module):
    def __init__(self, cfg: PolicyConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.c_attn = nn.Linear(cfg.d_model, 3 * cfg.d_model)  # C -> 3C: queries, keys, values
        self.c_proj = nn.Linear(cfg.d_model, cfg.d_model)  # C -> C
        # 1/sqrt(D) rounded once to float32; a constant, so it is the same on every machine.
        self.scale = float(torch.tensor(1.0 / math.sqrt(cfg.d_model // cfg.n_head), dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape  # (B, T, C)
        h, d = self.n_head, c // self.n_head
        qkv = self.c_attn(x)  # (B, T, 3C)
        q, k, v = qkv.split(c, dim=2)  # 3 x (B, T, C) views
        q = q.reshape(b, t, h, d).transpose(1, 2)  # (B, H, T, D)
        k = k.reshape(b, t, h, d).transpose(1, 2)  # (B, H, T, D)
        v = v.reshape(b, t, h, d).transpose(1, 2)  # (B, H, T, D)
        q = F.mul(q, self.scale)  # (B, H, T, D): scaling q is T/D times cheaper than the scores
        att = F.matmul(q, k.transpose(-2, -1))  # (B, H, T, T) scaled scores
        future = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)  # (T, T) keys after the query
        att = F.masked_fill(att, future, float("-inf"))  # (B, H, T, T)
        att = F.softmax(att, dim=-1)  # (B, H, T, T) attention weights
        y = F.matmul(att, v)  # (B, H, T, D)
        y = y.transpose(1, 2).reshape(b, t, c)  # (B, T, C) heads side by side
        return self.c_proj(y)  # (B, T, C)


class MLP(torch.nn.Module):
    def __init__(self, cfg: PolicyConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(cfg.d_model, cfg.d_mlp)  # C -> 4C
        self.c_proj = nn.Linear(cfg.d_mlp, cfg.d_model)  # 4C -> C
        self.act = F.relu if cfg.activation == "relu" else F.gelu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(self.act(self.c_fc(x)))  # (B, T, C) -> (B, T, 4C) -> (B, T, C)


class Block(torch.nn.Module):
    def __init__(self, cfg: PolicyConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # A tensor read by two ops goes through fanout, so its two gradients are summed in a
        # fixed order (torch's autograd would add them in whatever order it reaches them).
        x, skip = F.fanout(x, 2)  # 2 x (B, T, C)
        x = F.add(skip, self.attn(self.ln1(x)))  # (B, T, C) residual
        x, skip = F.fanout(x, 2)  # 2 x (B, T, C)
        return F.add(skip, self.mlp(self.ln2(x)))  # (B, T, C) residual


class Policy(torch.nn.Module):
    def __init__(self, config: PolicyConfig | None = None, seed: int = 0) -> None:
        super().__init__()
        cfg = self.config = config or PolicyConfig()
        self.wte = nn.Embedding(cfg.vocab_size, cfg.d_model)  # token embeddings (V, C)
        self.wpe = nn.Embedding(cfg.context, cfg.d_model)  # position embeddings (context, C)
        self.blocks = torch.nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)  # C -> V
        self.reset_parameters(seed)

    def reset_parameters(self, seed: int) -> None:
        """Weights uniform in [-a, a) from the counter RNG (a = 1/sqrt(fan-in), 0.02 for the
        embeddings), biases zero, LayerNorm gains one: the same bits on every device."""
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.endswith(".bias"):
                    p.zero_()
                elif ".ln" in f".{name}" and name.endswith(".weight"):
                    p.fill_(1.0)
                else:
                    # Python floats: IEEE-754 requires sqrt and / correctly rounded, so this
                    # binary64 constant (then rounded once to float32) is the same everywhere.
                    bound = 0.02 if name.startswith(("wte", "wpe")) else 1.0 / math.sqrt(p.shape[-1])
                    u = rng.uniform(rng.derive_key("policy-init", seed, name), 0, tuple(p.shape))
                    p.copy_((u * 2.0 - 1.0) * float(torch.tensor(bound, dtype=torch.float32)))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (B, T) int64 -> logits (B, T, V)."""
        b, t = tokens.shape
        if t > self.config.context:
            raise RepOpsError("bad_input", f"{t} tokens exceed the context of {self.config.context}")
        positions = torch.arange(t, device=tokens.device)  # (T,)
        x = F.add(self.wte(tokens), self.wpe(positions))  # (B, T, C) + (T, C) -> (B, T, C)
        for block in self.blocks:
            x = block(x)  # (B, T, C)
        return self.lm_head(self.ln_f(x))  # (B, T, V)

    def log_probs(self, tokens: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """log p(targets[b, t] | tokens[b, :t+1]) for every position: (B, T)."""
        logp = F.log_softmax(self(tokens), dim=-1)  # (B, T, V)
        return F.gather(logp, -1, targets[..., None])[..., 0]  # (B, T)

    @torch.no_grad()
    def generate(self, prompt: torch.Tensor, max_new: int, rng_key: int, temperature: float = 1.0) -> torch.Tensor:
        """Extend prompt (B, T0) by max_new sampled tokens -> (B, T0 + max_new). Token j is drawn
        with rng.categorical(softmax(logits / temperature), rng_key, counter = T0 + j): the same
        seed gives the same tokens on any device. temperature 0 takes the argmax (lowest id
        on ties). Only the last `context` tokens are seen."""
        if prompt.dtype != torch.int64 or prompt.dim() != 2 or prompt.shape[1] < 1:
            raise RepOpsError("bad_input", "prompt is an int64 tensor of shape (B, T0 >= 1)")
        if not (temperature >= 0 and math.isfinite(temperature)):
            raise RepOpsError("bad_input", "temperature must be finite and >= 0")
        tokens = prompt
        for _ in range(max_new):
            window = tokens[:, -self.config.context :]  # (B, <= context)
            logits = self(window)[:, -1, :]  # (B, V) next-token scores
            if temperature == 0:
                nxt = torch.argmax(logits, dim=-1)  # (B,) exact comparisons only
            else:
                probs = F.softmax(F.div(logits, float(torch.tensor(temperature, dtype=torch.float32))), dim=-1)
                nxt = rng.categorical(probs, rng_key, tokens.shape[1])  # (B,)
            tokens = torch.cat([tokens, nxt[:, None]], dim=1)  # (B, T + 1)
        return tokens

    # ------------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        tensors = {n: p.detach().contiguous().clone() for n, p in self.named_parameters()}
        save_file(tensors, str(path), metadata={"policy_config": json.dumps(asdict(self.config))})

    @classmethod
    def load(cls, path: str | Path) -> "Policy":
        try:
            tensors = load_file(str(path))
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
            config = PolicyConfig.from_dict(json.loads(meta["policy_config"]))
        except FileNotFoundError:
            raise RepOpsError("model_missing", str(path)) from None
        except (SafetensorError, OSError, KeyError, TypeError, ValueError) as exc:
            raise RepOpsError("model_corrupt", f"{path}: {exc}") from None
        model = cls(config)
        model.load_tensors(tensors)
        return model

    def load_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        params = dict(self.named_parameters())
        if set(tensors) != set(params):
            raise RepOpsError("model_mismatch", f"names differ: {sorted(set(tensors) ^ set(params))[:5]}")
        with torch.no_grad():
            for name, p in params.items():
                t = tensors[name]
                if t.shape != p.shape or t.dtype != p.dtype:
                    raise RepOpsError("model_mismatch", f"{name}: {tuple(t.shape)} {t.dtype}, expected {tuple(p.shape)}")
                p.copy_(t)


__all__ = ["ACTIVATIONS", "CHARSET", "EOS", "Policy", "PolicyConfig", "decode", "encode"]
