"""Tasks: full operation tables, train/test splits, and model encodings."""

from groklab.tasks.datasets import (
    MODULAR_OPS,
    OPS,
    TaskData,
    group_composition,
    make_task,
    modular_add,
    modular_div,
    modular_exp,
    modular_gcd,
    modular_mul,
    modular_sub,
    parity,
)
from groklab.tasks.encoding import flat_input_index, operand_indices, token_sequences
from groklab.tasks.splits import CRITICAL_RATIO_C, SPLIT_MODES, Split, critical_fraction, split_rows

__all__ = [
    "CRITICAL_RATIO_C",
    "MODULAR_OPS",
    "OPS",
    "SPLIT_MODES",
    "Split",
    "TaskData",
    "critical_fraction",
    "flat_input_index",
    "group_composition",
    "make_task",
    "modular_add",
    "modular_div",
    "modular_exp",
    "modular_gcd",
    "modular_mul",
    "modular_sub",
    "operand_indices",
    "parity",
    "split_rows",
    "token_sequences",
]
