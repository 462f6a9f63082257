"""One traced training step of the policy, and its replay from a checkpoint.

`train_step` runs forward, backward and AdamW on RepOps ops under a tracer and returns the
checkpoint hashes before and after, the trace root and the op count: what a claim commits to.
`replay` re-runs a claimed step from its checkpoint, batch and hyperparameters while keeping
every op's tensors, so a dispute can open any op and any element with a Merkle proof.

Two objectives, chosen by StepConfig.objective (committed with the hyperparameters):
- "pg": generic policy-gradient cross-entropy: row r of the batch (tokens, targets, mask,
  weight w_r) contributes -w_r * mean over its masked positions of log p(target). With
  w_r = 1 this is supervised learning (the warm start).
- "sapo": the GRPO-style clipped objective of SAPO (`sapo_loss`), with w_r the row's
  group-normalised advantage and `Batch.old_logp` the sampling policy's log-probabilities;
  `sapo_update` runs StepConfig.epochs PPO epochs, each one train_step over the same batch.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import torch

from repops import checkpoint, merkle, trace
from repops import functional as F
from repops.errors import RepOpsError
from repops.model import EOS, Policy, PolicyConfig
from repops.optim import AdamW


@dataclass(frozen=True)
class Batch:
    """B rows of T positions: `tokens` (B, T) int64 inputs, `targets` (B, T) int64 next tokens,
    `mask` (B, T) float32 (1 = position trained on, 0 = ignored, e.g. the prompt), `weights`
    (B,) float32 per-row weights (advantages)."""

    tokens: torch.Tensor
    targets: torch.Tensor
    mask: torch.Tensor
    weights: torch.Tensor
    # (B, T) float32 log-probabilities of `targets` under the sampling policy (the clipped
    # objective's denominator) and under a reference policy (the optional KL term); None
    # for the "pg" objective.
    old_logp: torch.Tensor | None = None
    ref_logp: torch.Tensor | None = None

    def extras(self) -> tuple[torch.Tensor, ...]:
        return tuple(x for x in (self.old_logp, self.ref_logp) if x is not None)

    def validate(self, config: PolicyConfig) -> None:
        t, y, m, w = self.tokens, self.targets, self.mask, self.weights
        if t.dtype != torch.int64 or y.dtype != torch.int64 or t.dim() != 2 or y.shape != t.shape:
            raise RepOpsError("bad_batch", "tokens and targets are int64 tensors of the same shape (B, T)")
        if m.dtype != torch.float32 or m.shape != t.shape:
            raise RepOpsError("bad_batch", "mask is a float32 tensor of shape (B, T)")
        if w.dtype != torch.float32 or w.shape != t.shape[:1]:
            raise RepOpsError("bad_batch", "weights is a float32 tensor of shape (B,)")
        b, n = t.shape
        if b == 0 or not 0 < n <= config.context:
            raise RepOpsError("bad_batch", f"need B >= 1 and 1 <= T <= {config.context}, got {tuple(t.shape)}")
        for name, ids in (("tokens", t), ("targets", y)):
            if bool(((ids < 0) | (ids >= config.vocab_size)).any()):
                raise RepOpsError("bad_batch", f"{name} outside the vocabulary")
        if not bool(((m == 0) | (m == 1)).all()):
            raise RepOpsError("bad_batch", "mask entries are 0 or 1")
        if not bool(torch.isfinite(w).all()):
            raise RepOpsError("bad_batch", "weights must be finite")
        for name, x in (("old_logp", self.old_logp), ("ref_logp", self.ref_logp)):
            if x is None:
                continue
            if x.dtype != torch.float32 or x.shape != t.shape:
                raise RepOpsError("bad_batch", f"{name} is a float32 tensor of shape (B, T)")
            # Only trained positions are read; elsewhere any value is ignored (masked out).
            if not bool((torch.isfinite(x) | (m == 0)).all()) or bool(((x > 0) & (m == 1)).any()):
                raise RepOpsError("bad_batch", f"{name} must be finite log-probabilities (<= 0) where mask is 1")

    def digest(self) -> bytes:
        """sha256 over the tensor roots of tokens, targets, mask, weights (in that order), then
        old_logp and ref_logp when present, each preceded by a tag byte (1, 2)."""
        roots = [merkle.tensor_root(x) for x in (self.tokens, self.targets, self.mask, self.weights)]
        for tag, x in ((b"\x01", self.old_logp), (b"\x02", self.ref_logp)):
            if x is not None:
                roots.append(tag + merkle.tensor_root(x))
        return hashlib.sha256(b"swarm-batch-v1" + b"".join(roots)).digest()

    def _map(self, fn) -> "Batch":
        return Batch(
            *(fn(x) for x in (self.tokens, self.targets, self.mask, self.weights)),
            old_logp=None if self.old_logp is None else fn(self.old_logp),
            ref_logp=None if self.ref_logp is None else fn(self.ref_logp),
        )

    def rows(self, start: int, stop: int) -> "Batch":
        return self._map(lambda x: x[start:stop])

    def to(self, device: torch.device | str) -> "Batch":
        return self._map(lambda x: x.to(device))

    def with_logps(self, old_logp: torch.Tensor | None, ref_logp: torch.Tensor | None = None) -> "Batch":
        return Batch(self.tokens, self.targets, self.mask, self.weights, old_logp, ref_logp)


def pack_rows(
    prompts: Sequence[Sequence[int]], completions: Sequence[Sequence[int]], weights: Sequence[float], length: int
) -> Batch:
    """A Batch of T = `length` positions from (prompt, completion, weight) rows: each row is
    prompt + completion + [EOS]; a row longer than length + 1 keeps its last length + 1 tokens;
    tokens/targets are the row shifted by one, right-padded with EOS; mask is 1 exactly where
    the target is a completion token or the final EOS; weights are rounded to float32."""
    if not (len(prompts) == len(completions) == len(weights)) or not prompts or length < 1:
        raise RepOpsError("bad_batch", "need equally many (>= 1) prompts, completions and weights, and length >= 1")
    b = len(prompts)
    tokens = torch.full((b, length), EOS, dtype=torch.int64)
    targets = torch.full((b, length), EOS, dtype=torch.int64)
    mask = torch.zeros(b, length, dtype=torch.float32)
    for r, (prompt, completion) in enumerate(zip(prompts, completions)):
        if not prompt:
            raise RepOpsError("bad_batch", f"row {r} has an empty prompt")
        row = [*prompt, *completion, EOS]
        first_target = len(prompt)  # index in `row` of the first completion token
        drop = max(0, len(row) - (length + 1))
        row = row[drop:]
        n = len(row) - 1
        tokens[r, :n] = torch.tensor(row[:-1], dtype=torch.int64)
        targets[r, :n] = torch.tensor(row[1:], dtype=torch.int64)
        start = max(0, first_target - drop - 1)  # position whose target is the first completion token
        mask[r, start:n] = 1.0
    return Batch(tokens, targets, mask, torch.tensor([float(w) for w in weights], dtype=torch.float32))


@dataclass(frozen=True)
class StepConfig:
    """Everything besides the checkpoint and the batch that fixes a step's result."""

    model: PolicyConfig = field(default_factory=PolicyConfig)
    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    micro_batches: int = 1
    # SAPO / GRPO clipped objective ("sapo") or plain weighted cross-entropy ("pg").
    objective: str = "pg"
    clip_eps: float = 0.2  # ratios are clipped to [1 - clip_eps, 1 + clip_eps]
    epochs: int = 1  # PPO epochs: optimizer steps over the same batch (sapo_update)
    kl_coef: float = 0.0  # weight of the KL penalty to the reference policy (needs ref_logp)

    def __post_init__(self) -> None:
        if self.objective not in ("pg", "sapo"):
            raise RepOpsError("bad_hparams", f"objective {self.objective!r} is not 'pg' or 'sapo'")
        if not (0 < self.clip_eps < 1) or not 1 <= self.epochs <= 64 or not (self.kl_coef >= 0) or self.micro_batches < 1:
            raise RepOpsError("bad_hparams", f"clip_eps={self.clip_eps} epochs={self.epochs} kl_coef={self.kl_coef}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> "StepConfig":
        try:
            fields = dict(data)
            # PolicyConfig.from_dict, not PolicyConfig(**...): hparams written before the
            # activation field existed describe a GELU model, not today's default.
            fields["model"] = PolicyConfig.from_dict(dict(fields["model"]))
            return cls(**fields)
        except (KeyError, TypeError, ValueError) as exc:
            raise RepOpsError("bad_hparams", str(exc)) from None

    def digest(self) -> bytes:
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(b"swarm-hparams-v1" + canonical.encode()).digest()


@dataclass(frozen=True)
class StepResult:
    ckpt_before: bytes
    ckpt_after: bytes
    trace_root: bytes | None
    op_count: int
    loss: float
    tracer: trace.Tracer | None = None


def make_optimizer(model: Policy, cfg: StepConfig) -> AdamW:
    return AdamW(
        list(model.named_parameters()), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps, weight_decay=cfg.weight_decay
    )


# ------------------------------------------------------------------------ checkpoint state


def state_tensors(model: Policy, optimizer: AdamW) -> dict[str, torch.Tensor]:
    """The checkpoint of docs/commitments.md: parameters, `<name>.exp_avg`, `<name>.exp_avg_sq`
    (zeros before the first step) and the int64 scalar `step`."""
    out: dict[str, torch.Tensor] = {}
    for name, p in model.named_parameters():
        out[name] = p.detach()
        m, v = optimizer.moments(p)
        out[name + ".exp_avg"] = m.detach()
        out[name + ".exp_avg_sq"] = v.detach()
    out["step"] = torch.tensor(optimizer.step_count, dtype=torch.int64)
    return out


def load_state(model: Policy, optimizer: AdamW, tensors: Mapping[str, torch.Tensor]) -> None:
    """Put a checkpoint's tensors into a model and its optimizer (exact copies)."""
    names = [n for n, _ in model.named_parameters()]
    expected = set(names) | {n + s for n in names for s in (".exp_avg", ".exp_avg_sq")} | {"step"}
    if set(tensors) != expected:
        missing, extra = sorted(expected - set(tensors)), sorted(set(tensors) - expected)
        raise RepOpsError("checkpoint_mismatch", f"missing {missing[:5]}, unexpected {extra[:5]}")
    with torch.no_grad():
        for name, p in model.named_parameters():
            for key in (name, name + ".exp_avg", name + ".exp_avg_sq"):
                t = tensors[key]
                if t.shape != p.shape or t.dtype != p.dtype:
                    raise RepOpsError("checkpoint_mismatch", f"{key}: {tuple(t.shape)} {t.dtype}, model has {tuple(p.shape)}")
            p.copy_(tensors[name])
            optimizer.set_moments(p, tensors[name + ".exp_avg"], tensors[name + ".exp_avg_sq"])
    step = tensors["step"]
    if step.dtype != torch.int64 or step.dim() != 0 or int(step) < 0:
        raise RepOpsError("checkpoint_mismatch", "step is a non-negative int64 scalar")
    optimizer.step_count = int(step)


# -------------------------------------------------------------------------------- the step


def policy_loss(model: Policy, batch: Batch, total_rows: int) -> torch.Tensor:
    """sum over rows r, positions t of -(w_r * mask_rt / (n_r * total_rows)) * log p_rt, with
    n_r = max(1, sum_t mask_rt); a mean over `total_rows` rows of per-row weighted means."""
    logp = model.log_probs(batch.tokens, batch.targets)  # (B, T)
    counts = F.maximum(F.sum(batch.mask, dim=1, keepdim=True), torch.ones(1))  # (B, 1)
    coef = F.div(F.mul(batch.weights[:, None], batch.mask), F.mul(counts, float(total_rows)))  # (B, T)
    return F.neg(F.sum(F.mul(coef, logp).reshape(-1), dim=0))  # ()


def sapo_loss(model: Policy, batch: Batch, total_tokens: int, clip_eps: float, kl_coef: float = 0.0) -> torch.Tensor:
    """The clipped policy-gradient objective (GRPO/PPO style) over the trained positions:

        d_t     = where(mask_t, logp_t - old_logp_t, 0)
        ratio_t = exp(d_t)
        obj_t   = min(ratio_t * A_r, clip(ratio_t, 1 - eps, 1 + eps) * A_r)
        kl_t    = exp(ref_t - logp_t) - (ref_t - logp_t) - 1          (only when kl_coef > 0)
        loss    = -sum_t mask_t * (obj_t - kl_coef * kl_t) / total_tokens

    A_r = batch.weights[r] (the row's advantage); total_tokens = the number of trained
    positions of the WHOLE batch, so micro-batch losses add up to the batch loss. Every float
    op is a RepOps op (fixed-order sums, RepOps exp): bit-reproducible and traceable."""
    if batch.old_logp is None:
        raise RepOpsError("bad_batch", "the sapo objective needs old_logp")
    if kl_coef > 0 and batch.ref_logp is None:
        raise RepOpsError("bad_batch", "kl_coef > 0 needs ref_logp")
    use_kl = kl_coef > 0
    logp = model.log_probs(batch.tokens, batch.targets)  # (B, T)
    if use_kl:
        logp, logp_kl = F.fanout(logp, 2)
    valid = batch.mask == 1  # (B, T) bool
    # The select keeps padded positions at exp(0) = 1, so an extreme value there can never
    # overflow to inf and turn into NaN when multiplied by a zero mask.
    delta = F.where(valid, F.sub(logp, batch.old_logp), 0.0)  # (B, T)
    ratio_a, ratio_b = F.fanout(F.exp(delta), 2)  # 2 x (B, T)
    adv = batch.weights[:, None].expand_as(batch.mask).contiguous()  # (B, T)
    clipped = F.minimum(F.maximum(ratio_b, 1.0 - clip_eps), 1.0 + clip_eps)  # (B, T)
    obj = F.minimum(F.mul(ratio_a, adv), F.mul(clipped, adv))  # (B, T)
    if use_kl:
        gap = F.where(valid, F.sub(batch.ref_logp, logp_kl), 0.0)  # (B, T)
        gap_a, gap_b = F.fanout(gap, 2)
        kl = F.sub(F.sub(F.exp(gap_a), gap_b), 1.0)  # (B, T), >= 0
        obj = F.sub(obj, F.mul(kl, kl_coef))
    coef = F.div(batch.mask, float(max(1, total_tokens)))  # (B, T)
    return F.neg(F.sum(F.mul(coef, obj).reshape(-1), dim=0))  # ()


@dataclass(frozen=True)
class Objective:
    """Which loss train_step minimises: weighted cross-entropy ("pg") or the clipped SAPO
    objective ("sapo") with its clip range and KL weight."""

    kind: str = "pg"
    clip_eps: float = 0.2
    kl_coef: float = 0.0

    @classmethod
    def of(cls, cfg: StepConfig) -> "Objective":
        return cls(cfg.objective, cfg.clip_eps, cfg.kl_coef)


def train_step(
    model: Policy,
    optimizer: AdamW,
    batch: Batch,
    *,
    objective: Objective = Objective(),
    micro_batches: int = 1,
    trace_ops: bool = True,
    keep_tensors: bool = False,
) -> StepResult:
    """Forward, backward and one AdamW update on `batch`. With micro_batches = k > 1 the B rows
    are split into k equal consecutive groups whose gradients are accumulated in group order
    (a different, equally deterministic computation: k is part of the committed StepConfig).
    `trace_ops=False` skips the trace (trace_root None); `keep_tensors` keeps every op's
    tensors for openings."""
    batch.validate(model.config)
    rows = batch.tokens.shape[0]
    if micro_batches < 1 or rows % micro_batches:
        raise RepOpsError("bad_batch", f"{rows} rows do not split into {micro_batches} equal micro-batches")
    before = checkpoint.checkpoint_hash(state_tensors(model, optimizer))
    size = rows // micro_batches

    params = [p for _, p in model.named_parameters()]
    total_tokens = int(batch.mask.sum().item())  # exact: a count of ones

    def loss_of(part: Batch) -> torch.Tensor:
        if objective.kind == "sapo":
            return sapo_loss(model, part, total_tokens, objective.clip_eps, objective.kl_coef)
        return policy_loss(model, part, rows)

    def run() -> torch.Tensor:
        optimizer.zero_grad()
        total, grads = None, None
        for k in range(micro_batches):
            loss = loss_of(batch.rows(k * size, (k + 1) * size))
            loss.backward()
            with torch.no_grad():
                # Accumulate with traced adds, micro-batch by micro-batch, so the gradient
                # AdamW reads is committed op by op (autograd's own += would not be traced).
                new = [p.grad for p in params]
                grads = new if grads is None else [g if n is None else F.add(g, n) for g, n in zip(grads, new)]
                total = loss.detach() if total is None else F.add(total, loss.detach())
            optimizer.zero_grad()
        for p, g in zip(params, grads):
            p.grad = g
        optimizer.step()
        return total

    tracer = None
    if trace_ops:
        with trace.tracing(keep_tensors=keep_tensors) as tracer:
            total = run()
    else:
        total = run()
    after = checkpoint.checkpoint_hash(state_tensors(model, optimizer))
    return StepResult(
        before,
        after,
        tracer.root if tracer else None,
        tracer.op_count if tracer else 0,
        float(total),
        tracer if keep_tensors else None,
    )


@dataclass(frozen=True)
class Replay:
    """A re-executed step: its result and the tracer holding every op's tensors
    (`tracer.open(i)`, `tracer.prove_element(i, side, position, flat_index)`)."""

    result: StepResult
    tracer: trace.Tracer
    model: Policy


def replay(ckpt: Mapping[str, torch.Tensor] | str | Path, batch: Batch, hparams: StepConfig) -> Replay:
    """Re-run the step that a claim describes, keeping every op's tensors."""
    tensors = checkpoint.load(ckpt) if isinstance(ckpt, (str, Path)) else dict(ckpt)
    model = Policy(hparams.model)
    optimizer = make_optimizer(model, hparams)
    load_state(model, optimizer, tensors)
    result = train_step(
        model, optimizer, batch, objective=Objective.of(hparams), micro_batches=hparams.micro_batches, keep_tensors=True
    )
    assert result.tracer is not None
    return Replay(result, result.tracer, model)


@torch.no_grad()
def sampling_logps(model: Policy, batch: Batch) -> torch.Tensor:
    """(B, T) float32 log p(targets) under `model`, untraced: the old_logp of a batch whose
    rows this checkpoint sampled (or adopts as on-policy, for external rows). RepOps ops are
    batch-invariant, so a verifier gets the same bits from the claim's ckpt_before."""
    if trace.active() is not None:
        raise RepOpsError("traced", "sampling_logps runs outside a tracer (it is not part of a step)")
    return model.log_probs(batch.tokens, batch.targets).detach().clone()


@dataclass(frozen=True)
class UpdateResult:
    """A SAPO update: one StepResult per PPO epoch (ckpt_before of the first, ckpt_after of
    the last are the claim's) and the batch with old_logp filled in (what the digest covers)."""

    steps: tuple[StepResult, ...]
    batch: Batch

    @property
    def ckpt_before(self) -> bytes:
        return self.steps[0].ckpt_before

    @property
    def ckpt_after(self) -> bytes:
        return self.steps[-1].ckpt_after

    @property
    def loss(self) -> float:
        return self.steps[0].loss  # the loss at ckpt_before (ratio 1): comparable across rounds


def sapo_update(
    model: Policy, optimizer: AdamW, batch: Batch, cfg: StepConfig, *, trace_ops: bool = False
) -> UpdateResult:
    """cfg.epochs PPO epochs on `batch` with the objective of cfg. For "sapo", old_logp is
    computed here from the current checkpoint when the batch lacks it, and kept fixed across
    epochs, so the clip binds from the second epoch on as the ratios move."""
    if cfg.objective == "sapo" and batch.old_logp is None:
        batch = batch.with_logps(sampling_logps(model, batch), batch.ref_logp)
    objective = Objective.of(cfg)
    steps = tuple(
        train_step(model, optimizer, batch, objective=objective, micro_batches=cfg.micro_batches, trace_ops=trace_ops)
        for _ in range(cfg.epochs)
    )
    return UpdateResult(steps, batch)


__all__ = ["Batch", "Objective", "UpdateResult", "pack_rows", "sampling_logps", "sapo_loss", "sapo_update", "Replay", "StepConfig", "StepResult", "load_state", "make_optimizer", "policy_loss", "replay", "state_tensors", "train_step"]
