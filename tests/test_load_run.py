"""`groklab.load_run`: a stored run back as config, metrics and an ordinary nn.Module equal to the trained member."""

import pytest
import torch

import groklab
from groklab.config import load_config
from groklab.errors import GroklabError
from groklab.models.single import Transformer, TwoLayerNet
from groklab.models.transformer import TransformerEnsemble
from groklab.models.two_layer import TwoLayerEnsemble
from groklab.tasks.build import build_task
from groklab.tasks.encoding import token_sequences
from groklab.train.loop import train

TWO_LAYER = ["task.group=Z7", "model.width=32", "optim.lr=1e-2", "optim.weight_decay=[1e-3,0]", "train.seeds=[0,1]",
             "train.epochs=30"]
TRANSFORMER = ["model.kind=transformer", "task.op=add", "task.modulus=7", "task.train_fraction=0.6", "model.width=16",
               "model.depth=2", "model.heads=2", "model.dropout=0.1", "optim.kind=adamw", "loss.kind=ce",
               "train.seeds=[0,1,2]", "train.epochs=20", "train.batch_size=8"]
SNAPSHOTS = ["train.checkpoint_dense_until=0", "train.checkpoint_every=10", "train.progress=false"]


class LastEpochOutputs:
    """A training hook that records the training ensemble's logits on every input of the task at the last epoch
    (the parameters the last snapshot holds)."""

    def __init__(self, cfg):
        task = build_task(cfg.task)
        inputs = task.inputs if cfg.model.kind == "two_layer" else token_sequences(task)[0]
        self.inputs, self.every, self.last, self.logits = torch.as_tensor(inputs), cfg.train.epochs, cfg.train.epochs, None

    def __call__(self, ctx):
        if ctx.epoch == self.last:
            training = ctx.model.training
            with torch.no_grad():
                self.logits = ctx.model.eval()(self.inputs).clone()
            ctx.model.train(training)
        return {}


def trained(tmp_path, overrides):
    cfg = load_config(None, [*overrides, *SNAPSHOTS, f"store.path={tmp_path / 'runs.sqlite'}"])
    hook = LastEpochOutputs(cfg)
    return cfg, train(cfg, hooks=(hook,)), hook.logits, tmp_path / "runs.sqlite"


@pytest.mark.parametrize("overrides, single, ensemble", [(TWO_LAYER, TwoLayerNet, TwoLayerEnsemble),
                                                         (TRANSFORMER, Transformer, TransformerEnsemble)],
                         ids=["two_layer", "transformer"])
def test_loaded_member_computes_what_the_training_ensemble_computed(tmp_path, overrides, single, ensemble):
    cfg, results, logits, store = trained(tmp_path, overrides)
    for s, result in enumerate(results):
        run = groklab.load_run(result["run_id"][:7], store=store)
        assert isinstance(run.model, single) and not run.model.training
        assert run.members == [s] and run.run_id == result["run_id"] and run.epoch == cfg.train.epochs
        assert run.config.train.seeds == [cfg.member_seeds()[s]] and run.summary["grok_epoch"] == result["grok_epoch"]
        assert sorted(run.metrics["epoch"]) == list(range(cfg.train.epochs + 1))
        torch.testing.assert_close(run.logits(), logits[s], rtol=1e-5, atol=1e-5)
        # the stored final test accuracy is the loaded model's on the member's test rows
        test = torch.as_tensor(run.split.test)
        accuracy = (run.logits(test).argmax(-1) == run.labels[test]).double().mean().item()
        assert accuracy == pytest.approx(run.metrics["test_acc"].iloc[-1], abs=1e-12)

    whole = groklab.load_run(results[0]["run_id"], member=None, store=store)
    assert isinstance(whole.model, ensemble) and whole.members == list(range(len(results)))
    assert repr(whole).startswith(f"<LoadedRun ensemble of {len(results)} runs") and "\n" not in repr(whole)
    assert whole.config.member_seeds() == cfg.member_seeds() and len(whole.summaries) == len(results)
    torch.testing.assert_close(whole.logits(), logits, rtol=1e-5, atol=1e-5)
    other = groklab.load_run(results[0]["run_id"], member=1, store=store, epoch=10)
    assert other.run_id == results[1]["run_id"] and other.epoch == 10 and other.epochs == [0, 10, 20, 30][: len(other.epochs)]


def test_load_run_refuses_bad_requests_in_one_line(tmp_path):
    _, results, _, store = trained(tmp_path, TWO_LAYER)
    run_id = results[0]["run_id"]
    cases = [(dict(run_id="zzzz"), "no run 'zzzz'"),
             (dict(run_id=run_id, epoch=7), "no snapshot at epoch 7; saved epochs: 0-30 every 10"),
             (dict(run_id=run_id, member=2), "ensemble has members 0..1"),
             (dict(run_id=run_id, store=tmp_path / "absent.sqlite"), "no store at"),
             (dict(run_id=""), "give a run id")]
    for kwargs, message in cases:
        kwargs.setdefault("store", store)
        with pytest.raises(GroklabError, match=message.replace("(", r"\(")) as err:
            groklab.load_run(**kwargs)
        assert "\n" not in str(err.value)
    from groklab.store import Store

    twins = Store(tmp_path / "twins.sqlite")
    for run_id in ("ab10", "ab20"):
        twins.start_run(run_id, config={}, seed=0, config_hash=run_id)
    with pytest.raises(GroklabError, match="prefix 'ab' is ambiguous"):
        groklab.load_run("ab", store=twins)


def test_a_member_that_stopped_early_leaves_the_later_ensemble_snapshots(tmp_path):
    """train.stop=grok: the grokking member's last snapshot is its stop; the ensemble at a later epoch holds the
    others only, and asking for the stopped member there names the epochs it has."""
    store = tmp_path / "runs.sqlite"
    cfg = load_config(None, ["task.group=Z23", "task.train_fraction=0.5", "model.width=512", "optim.lr=5e-3",
                             "optim.weight_decay=[1e-3,0]", "train.epochs=150", "train.eval_every=5", "train.stop=grok",
                             "train.progress=false", "train.checkpoint_dense_until=0", "train.checkpoint_every=50",
                             f"store.path={store}"])
    grokker, other = train(cfg)
    assert grokker["stopped_epoch"] < 150 and other["stopped_epoch"] == 150
    stopped = groklab.load_run(grokker["run_id"], store=store)
    assert stopped.epoch == grokker["stopped_epoch"] and stopped.epochs[-1] == stopped.epoch
    late = groklab.load_run(grokker["run_id"], member=None, store=store)
    assert late.epoch == 150 and late.members == [1] and late.run_ids == [other["run_id"]]
    assert late.model.num_members == 1
    with pytest.raises(GroklabError, match=f"no snapshot at epoch 150; saved epochs: .*{grokker['stopped_epoch']}$"):
        groklab.load_run(grokker["run_id"], epoch=150, store=store)
