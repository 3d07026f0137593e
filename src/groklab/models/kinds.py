"""The model choices the config names, without torch: rope modes (`groklab.models.rope` implements them)."""

ROPE_MODES = ("sequence", "none", "heads")  # groklab.models.rope's module docstring describes each
