"""train.compile=true: the torch.compile'd training step gives the eager numbers within float tolerance."""

import numpy as np

from groklab.config import load_config
from groklab.store import Store
from groklab.train.loop import train


def test_compiled_step_matches_eager_and_survives_compaction(tmp_path):
    base = ["task.group=Z7", "model.width=24", "task.train_fraction=0.5", "train.epochs=12", "train.dtype=float64",
            "train.progress=false", "train.checkpoint_dense_until=0", "train.seeds=[0,1]", "optim.lr=[1e-2,1e6]",
            "optim.kind=sgd", "optim.momentum=0.0", "optim.weight_decay=0"]
    eager = train(load_config(None, [*base, f"store.path={tmp_path / 'eager.sqlite'}"]))
    compiled = train(load_config(None, [*base, "train.compile=true", f"store.path={tmp_path / 'compiled.sqlite'}"]))
    # member 1 diverges and leaves the stack, so the compiled step is rebuilt for the survivor
    assert eager[1]["stop_reason"] == compiled[1]["stop_reason"] == "diverged"
    a = Store(tmp_path / "eager.sqlite").metrics([eager[0]["run_id"]])["train_loss"].to_numpy()
    b = Store(tmp_path / "compiled.sqlite").metrics([compiled[0]["run_id"]])["train_loss"].to_numpy()
    assert len(a) == len(b) == 13
    np.testing.assert_allclose(a, b, rtol=1e-9)
