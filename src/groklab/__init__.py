"""groklab: train, measure and explain grokking on group arithmetic.

The package follows the data flow: groups -> tasks -> models/optim/losses -> train -> li2 analysis
-> sweep/store -> report/cli. Lower layers never import higher ones.

`groklab.load_run(run_id)` gives a stored run back: its config, metrics and trained model
(`groklab.train.load`). It loads on first use, so `import groklab` stays light.
"""

__version__ = "0.1.0"
__all__ = ["load_run", "__version__"]


def __getattr__(name: str):
    if name in ("load_run", "LoadedRun"):
        from groklab.train import load

        return getattr(load, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
