"""Model inputs for a task: operand indices (2-layer net) and token sequences (transformer).

Two-layer net (the Li₂ reference code): each operand is a one-hot vector through a frozen identity embedding and
the operands' one-hots are concatenated, so operand j with value v lights input column
j·num_values + v of the first layer (W has arity·num_values columns).

Transformer (the Muon paper's base code): a binary example is ``[a, OP, b, EQ]`` with a
single OP id shared by every operation (one task per model, so the operation never needs a name),
OP = num_values, EQ = num_values + 1 and vocab = num_values + 2 (99 for p = 97; for groups OP = |G|).
Three operands give ``[a, OP, b, OP, c, EQ]``.

Parity: the paper does not say how the bit string is tokenised. We use the bits themselves as
tokens 0/1 followed by EQ = 2 (vocab 3), i.e. ``[b0, …, b9, EQ]``, read out at EQ like the other
tasks; there is no OP token because the bits are not operands of a binary operation. (The other
reading, one token 0..1023, would make the task a lookup with nothing to generalise from.)
"""

from __future__ import annotations

import numpy as np

from groklab.tasks.datasets import TaskData


def operand_indices(task: TaskData) -> np.ndarray:
    """The [N, arity] int64 operand values (the 2-layer net's embedding indices)."""
    return task.inputs


def flat_input_index(inputs: np.ndarray, num_values: int) -> np.ndarray:
    """[N, arity] int64 columns of the concatenated one-hot input: operand j, value v → j·num_values + v."""
    inputs = np.asarray(inputs, dtype=np.int64)
    return inputs + num_values * np.arange(inputs.shape[1], dtype=np.int64)[None, :]


def token_sequences(task: TaskData) -> tuple[np.ndarray, int]:
    """(tokens [N, L] int64, vocab_size) for a sequence model; the label is predicted at the last (EQ) token."""
    x = task.inputs
    n = task.num_values
    if task.op == "parity":
        eq = np.full((len(x), 1), n, dtype=np.int64)
        return np.concatenate([x, eq], axis=1), n + 1
    op_id, eq_id = n, n + 1
    arity = x.shape[1]
    tokens = np.empty((len(x), 2 * arity), dtype=np.int64)
    tokens[:, 0::2] = x  # operands at even positions
    tokens[:, 1::2] = op_id  # OP between operands ...
    tokens[:, -1] = eq_id  # ... and EQ last
    return tokens, n + 2
