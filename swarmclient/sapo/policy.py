"""The tiny RepOps policy seen from the tasks: tokenization, the canonical completion rule,
packing scored groups into a repops Batch, device choice and a memory guard.

Task text lives in swarmclient.tasks.vocab.CHARSET, a subset of the policy's 97-character
vocabulary (repops.model.CHARSET), so every prompt and answer encodes with repops.model.encode.
A sampled completion may contain characters no task uses (upper case, brackets) or run on past
its answer; `completion_text` cuts it by one public rule so any peer gets the same text:

    the completion is the sampled characters up to and including the first ANSWER_END ("\\n"),
    stopping before the first EOS token or the first character outside the task charset,
    and never longer than max_new characters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psutil
import torch

from repops.model import CHARSET as MODEL_CHARSET
from repops.model import EOS, PolicyConfig
from repops.model import encode as model_encode
from repops.step import Batch as TensorBatch
from repops.step import pack_rows
from swarmclient.errors import SwarmError
from swarmclient.sapo.batch import BatchRecord
from swarmclient.tasks.registry import get_task
from swarmclient.tasks.vocab import ANSWER_END
from swarmclient.tasks.vocab import CHARSET as TASK_CHARSET

# Big enough for every built-in task at its default parameters plus a 10-character answer.
TINY = PolicyConfig(context=32, d_model=32, n_layer=2, n_head=4, d_mlp=64)
_TASK_IDS = frozenset(model_encode(TASK_CHARSET))
END_ID = model_encode(ANSWER_END)[0]


def task_charset_fits_model() -> bool:
    return set(TASK_CHARSET) <= set(MODEL_CHARSET)


def encode(text: str) -> list[int]:
    """Task text to policy token ids (SwarmError on a character outside the vocabulary)."""
    if not set(text) <= set(TASK_CHARSET):
        raise SwarmError("out-of-vocab", f"text {text[:40]!r} has characters outside the task charset")
    return model_encode(text)


def completion_text(tokens: Sequence[int], max_new: int) -> str:
    """The canonical completion of a sampled token sequence (see the module docstring)."""
    out = []
    for t in list(tokens)[:max_new]:
        if t == EOS or t not in _TASK_IDS:
            break
        out.append(MODEL_CHARSET[t])
        if t == END_ID:
            break
    return "".join(out)


def max_new_for(prompt: str, config: PolicyConfig, max_new: int) -> int:
    """How many characters may be sampled after `prompt`: max_new, capped so prompt +
    completion + EOS fit the context. SwarmError when the prompt leaves no room."""
    room = config.context - len(prompt) - 1
    if room < 1:
        raise SwarmError("prompt-too-long", f"a {len(prompt)}-character prompt leaves no room in a context of {config.context}")
    return min(max_new, room)


def pack_records(records: Sequence[BatchRecord], config: PolicyConfig) -> TensorBatch:
    """The update's tensors from scored records, in record order then completion order: one
    row per completion, prompt regenerated from (task, params, seed), weight = its advantage.
    Rows are always padded to the policy's context: RepOps results are bit-identical across
    batch rows and splits but not across sequence lengths (attention sums over T keys), so
    a fixed length makes a row's log-probs independent of whatever else is in the batch."""
    prompts, completions, weights = [], [], []
    for record in records:
        problem = get_task(record.task).generate(dict(record.params), record.seed)
        prompt = encode(problem.prompt)
        for text, adv in zip(record.completions, record.advantages):
            prompts.append(prompt)
            completions.append(encode(text))
            weights.append(adv)
    if not prompts:
        raise SwarmError("empty-batch", "no completions to train on")
    return pack_fixed(prompts, completions, weights, config)


def pack_fixed(prompts, completions, weights, config: PolicyConfig) -> TensorBatch:
    """pack_rows at T = config.context, with the loss restricted to the sampled decisions;
    SwarmError if a row does not fit.

    pack_rows trains every completion token AND the EOS it appends. That EOS is a decision
    the sampler made only when the completion stopped without ANSWER_END: after a final
    ANSWER_END the sampler's next token is cut off by the canonical rule and never chosen
    by the policy, so training it with the row's advantage would push an unrelated
    probability (the EOS after the newline) up or down with noise. Its mask is cleared."""
    longest = max(len(p) + len(c) for p, c in zip(prompts, completions))  # positions: + EOS - 1 shift
    if longest > config.context:
        raise SwarmError("row-too-long", f"a row of {longest} positions exceeds the context of {config.context}")
    batch = pack_rows(prompts, completions, weights, config.context)
    mask = batch.mask.clone()
    for r, (prompt, completion) in enumerate(zip(prompts, completions)):
        if completion and completion[-1] == END_ID:
            mask[r, len(prompt) + len(completion) - 1] = 0.0  # the position whose target is the appended EOS
    return TensorBatch(batch.tokens, batch.targets, mask, batch.weights, batch.old_logp, batch.ref_logp)


def pick_device(preference: str = "auto") -> torch.device:
    """cpu, cuda or mps; "auto" takes the first available accelerator, else the CPU."""
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if preference not in ("cpu", "cuda", "mps"):
        raise SwarmError("bad-device", f"device {preference!r} is not auto, cpu, cuda or mps")
    return torch.device(preference)


@dataclass(frozen=True)
class MemoryEstimate:
    bytes_needed: int
    bytes_available: int
    fraction: float

    @property
    def fits(self) -> bool:
        return self.bytes_needed <= self.fraction * self.bytes_available


def estimate_step_bytes(config: PolicyConfig, rows: int, length: int) -> int:
    """A generous bound on a training step's memory: parameters with grads and two AdamW
    moments, and per layer the saved activations (attention scores are rows x heads x T x T;
    RepOps keeps binary64 intermediates, hence the factor 8 bytes)."""
    c, t, v = config.d_model, length, config.vocab_size
    params = 12 * config.n_layer * c * c + (config.context + 2 * v) * c
    per_layer = rows * t * (16 * c + 2 * config.d_mlp + 3 * config.n_head * t)
    head = rows * t * v * 4
    return 4 * 4 * params + 8 * (config.n_layer * per_layer + head)


def memory_guard(config: PolicyConfig, rows: int, length: int, fraction: float = 0.5) -> MemoryEstimate:
    """Refuse (SwarmError 'memory') a step that would need more than `fraction` of the free
    memory, so a laptop never swaps."""
    estimate = MemoryEstimate(estimate_step_bytes(config, rows, length), psutil.virtual_memory().available, fraction)
    if not estimate.fits:
        raise SwarmError(
            "memory",
            f"a step of {rows} rows x {length} positions needs about {estimate.bytes_needed >> 20} MiB, "
            f"more than {fraction:.0%} of the {estimate.bytes_available >> 20} MiB free",
        )
    return estimate
