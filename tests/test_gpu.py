"""CUDA checks (skipped without a GPU; `benchmarks/gpu/run.sh` runs them on one).

- members ≡ solo runs holds on CUDA for the Muon-grokking transformer (dropout and minibatches on);
- without dropout, a CUDA run gives the CPU run's numbers (float64): the device changes no number but
  the dropout masks' random stream (torch's CUDA and CPU generators differ);
- the local executor runs several worker processes on one GPU, each training its own ensemble there.
"""

import pytest
import torch

from groklab.config import load_config
from groklab.optim import muon as muon_module
from groklab.store import Store
from groklab.sweep.driver import run_sweep
from groklab.sweep.plan import make_plan
from groklab.sweep.spec import spec_from_dict
from groklab.train.loop import train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

TINY = ["model.kind=transformer", "model.width=16", "model.heads=2", "model.depth=2", "model.rope_base=10",
        "task.op=add", "task.modulus=7", "task.train_fraction=0.6", "task.split=random", "loss.kind=ce",
        "loss.dtype=float64",  # the CE's own precision (float32 by default): float32 rounds differently on each device
        "optim.kind=adamw", "optim.betas=[0.9,0.98]", "train.batch_size=8", "train.epochs=3", "train.dtype=float64",
        "train.progress=false", "train.checkpoint_dense_until=0", "train.checkpoint_every=1000",
        "optim.muon_routing=hidden"]


def cfg(tmp_path, *overrides):
    return load_config(None, [*TINY, f"store.path={tmp_path / 'runs.sqlite'}", *overrides])


def metrics(cfg_, run_id):
    return Store(cfg_.store.path).metrics([run_id]).set_index("epoch")


@pytest.mark.parametrize("optim", [[], ["optim.kind=muon", "optim.muon_variant=torch", "optim.muon_lr=0.02"]])
def test_members_equal_solo_runs_on_cuda(tmp_path, monkeypatch, optim):
    # Newton-Schulz in float64, as in test_transformer.py: in lower precision a batched matmul may round a
    # member's matrix differently in a stack than alone, and Muon's normalised steps carry that on
    monkeypatch.setitem(muon_module._VARIANT_DEFAULTS["torch"], "ns_dtype", "float64")
    common = ["train.device=cuda", "model.dropout=0.2", "optim.lr=[1e-3,3e-3]", "optim.weight_decay=[1.0,0.1]", *optim]
    ens_cfg = cfg(tmp_path / "ens", *common, "train.seeds=[0,1]")
    together = train(ens_cfg)
    for s, result in enumerate(together):
        solo_cfg = cfg(tmp_path / f"solo{s}", *optim, "train.device=cuda", "model.dropout=0.2", f"train.seeds=[{s}]",
                       f"optim.lr={ens_cfg.member_values('lr')[s]}",
                       f"optim.weight_decay={ens_cfg.member_values('weight_decay')[s]}")
        (solo,) = train(solo_cfg)
        assert solo["run_id"] == result["run_id"]
        a, b = metrics(ens_cfg, result["run_id"]), metrics(solo_cfg, solo["run_id"])
        for col in ("train_loss", "train_acc", "test_loss", "test_acc"):
            torch.testing.assert_close(torch.tensor(a[col].to_numpy()), torch.tensor(b[col].to_numpy()),
                                       rtol=1e-6, atol=1e-9)


def test_cuda_gives_the_cpu_numbers_without_dropout(tmp_path):
    out = {}
    for device in ("cpu", "cuda"):
        c = cfg(tmp_path / device, f"train.device={device}", "model.dropout=0", "train.seeds=[0,1]")
        out[device] = [metrics(c, r["run_id"]) for r in train(c)]
    for cpu, gpu in zip(out["cpu"], out["cuda"]):
        for col in ("train_loss", "test_loss", "test_acc"):
            torch.testing.assert_close(torch.tensor(gpu[col].to_numpy()), torch.tensor(cpu[col].to_numpy()),
                                       rtol=1e-7, atol=1e-9)


def test_several_workers_share_one_gpu(tmp_path):
    """Three worker processes on one device, each an ensemble of two seeds (as the Muon grid runs)."""
    store = str(tmp_path / "runs.sqlite")
    base = {o.split("=")[0]: o.split("=", 1)[1] for o in TINY}
    base.update({"train.device": "cuda", "train.dtype": "float32", "train.epochs": "5"})
    spec = spec_from_dict({"name": "gpu-workers", "base": {k: _value(v) for k, v in base.items()},
                           "axes": {"loss.kind": ["ce", "stablemax", "sparsemax"]}, "seeds": [0, 1]})
    plan = make_plan(spec, workers=3, store_path=store)
    assert plan.device == "cuda" and plan.workers == 3 and len(plan.ensembles) == 3
    per_worker = int(0.5 * torch.cuda.get_device_properties(0).total_memory) // 3
    assert plan.memory_budget == per_worker  # half the device shared among the workers on it
    report = run_sweep(spec, workers=3, store_path=store, progress=False)
    assert report.failed == 0 and report.done == 6


def _value(text: str):
    import yaml

    return yaml.safe_load(text)
