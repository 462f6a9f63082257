"""Tasks: deterministic problem generators with verifiers, the character vocabulary of the tiny
policy, and an adapter for reasoning-gym datasets. See docs/tasks.md."""

from swarmclient.tasks.base import IntParam, Problem, Task, extract_answer, validate_params, validate_seed
from swarmclient.tasks.builtin import BUILTIN_TASKS, numeric_credit, permutation_credit
from swarmclient.tasks.reasoning_gym import ALLOWED as REASONING_GYM_ALLOWED
from swarmclient.tasks.reasoning_gym import DENIED as REASONING_GYM_DENIED
from swarmclient.tasks.reasoning_gym import ReasoningGymTask
from swarmclient.tasks.registry import (
    CHAR_TASKS,
    SPECIALTIES,
    TASKS,
    TaskInstance,
    fingerprint,
    get_task,
    regenerate,
    round_seed_material,
    sample_instances,
    score_completion,
    specialty_tasks,
)
from swarmclient.tasks.rng import TaskRng, derive_key
from swarmclient.tasks.vocab import (
    ANSWER_END,
    CHARSET,
    CONTEXT_CHARS,
    PAD_ID,
    VOCAB_SIZE,
    VOCAB_VERSION,
    check_in_vocab,
    decode,
    encode,
    in_vocab,
)

__all__ = [
    "ANSWER_END",
    "BUILTIN_TASKS",
    "CHARSET",
    "CHAR_TASKS",
    "CONTEXT_CHARS",
    "IntParam",
    "PAD_ID",
    "Problem",
    "REASONING_GYM_ALLOWED",
    "REASONING_GYM_DENIED",
    "ReasoningGymTask",
    "SPECIALTIES",
    "TASKS",
    "Task",
    "TaskInstance",
    "TaskRng",
    "VOCAB_SIZE",
    "VOCAB_VERSION",
    "check_in_vocab",
    "decode",
    "derive_key",
    "encode",
    "extract_answer",
    "fingerprint",
    "get_task",
    "in_vocab",
    "numeric_credit",
    "permutation_credit",
    "regenerate",
    "round_seed_material",
    "sample_instances",
    "score_completion",
    "specialty_tasks",
    "validate_params",
    "validate_seed",
]
