"""Transformer features end to end: a Z31 transformer trained with `features.every` groks, and then its
restricted loss is the full loss while its excluded loss is chance; its embedding holds most of its power
in a few frequencies; a transformer on a non-abelian group trains through the CLI; the hook leaves training
unchanged; `groklab features` reads both model kinds; bad input is one line and exit status 2."""

import json
import math
import shutil

import pytest

from groklab.store import Store
from helpers import cli as run

# A one-block transformer that groks add mod 31 within ~250 full-batch epochs (measured: seeds 0-2 grok at
# 180, 220, 340 with lr 1e-2, wd 3, train fraction 0.7); seed 1 is past its grok epoch well before 300.
Z31 = ["muon_grokking", "task.op=add", "task.modulus=31", "task.train_fraction=0.7", "model.width=64", "model.depth=1",
       "model.heads=4", "model.dropout=0", "optim.lr=1e-2", "optim.weight_decay=3.0", "train.batch_size=null",
       "train.eval_every=10", "train.epochs=300", "train.seeds=[1]", "train.device=cpu", "train.progress=false",
       "features.every=100"]


def _train(capsys, store, *args):
    code, out, err = run(capsys, "train", *args, f"store.path={store}", "--json")
    assert code == 0, err
    return [json.loads(line) for line in out.strip().splitlines()]


def _json(capsys, *args):
    code, out, err = run(capsys, *args)
    assert code == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def grokked(tmp_path_factory):
    """(store path, member result) of the Z31 run, trained once for the module through the Python API (the
    CLI path is the non-abelian test's)."""
    from groklab.config import load_config
    from groklab.train.loop import train

    store = str(tmp_path_factory.mktemp("z31") / "runs.sqlite")
    cfg = load_config(Z31[0], [*Z31[1:], f"store.path={store}"])
    (member,) = train(cfg, progress=False)  # the config's features.every builds the hook
    return store, member


def test_a_grokked_z31_transformer_computes_with_its_key_frequencies(grokked):
    store, member = grokked
    assert member["grok_epoch"] is not None and member["grok_epoch"] < 300
    frame = Store(store).series([member["run_id"]])
    series = frame.pivot(index="epoch", columns="key", values="value")
    assert list(series.index) == [0, 100, 200, 300]
    last, first = series.loc[300], series.loc[0]
    for split in ("train", "test"):
        full = last[f"features.loss_{split}"]
        assert last[f"features.restricted_loss_{split}"] == pytest.approx(full, rel=0.2)  # the key irreps are the algorithm
        assert last[f"features.excluded_loss_{split}"] > 5 * full  # without them ...
        assert last[f"features.excluded_loss_{split}"] > 0.9 * math.log(31)  # ... the logits are at chance
    assert last["features.key_count"] <= 8 < first["features.key_count"]  # few frequencies after, most at init
    assert last["features.key_power"] >= 0.9 and last["features.covered"] >= 3
    assert first["features.covered"] == 0  # at init no FFN neuron is one frequency


def test_features_command_reports_the_key_frequencies_of_the_grokked_embedding(capsys, grokked):
    from groklab.groups import get_group
    from groklab.li2 import transformer_features as T
    from groklab.li2.experiments import member_weights

    store, member = grokked
    out = _json(capsys, "features", member["run_id"][:8], "--store", store, "--json")
    emb = out["embedding"]
    assert out["epoch"] == 300 and out["group"] == "Z31" and isinstance(emb["key_irreps"], list)
    assert 1 <= len(emb["key_irreps"]) == emb["key_count"] <= 8 and 0.9 <= emb["key_power"] <= 1
    assert all(label.startswith("k=") for label in emb["key_irreps"])
    assert out["losses"]["excluded_test"] > 5 * out["losses"]["full_test"]
    # the statement: ≥ 60 % of the non-trivial power in ≤ 8 frequencies (it needs 9 of 15 at init)
    group = get_group("Z31")
    for epoch, most in ((300, 8), (0, None)):
        power = T.table_spectrum(group, T.embedding_table(member_weights(Store(store), member["run_id"], epoch), group))
        count = int(T.key_irreps(power, 0.6)["count"])
        assert count <= 8 if most else count >= 9
    # unembedding and neurons agree with the embedding on most key frequencies
    assert len(set(emb["key_irreps"]) & set(out["unembedding"]["key_irreps"])) >= len(emb["key_irreps"]) - 1
    assert set(out["neurons"]["covered"]) & set(emb["key_irreps"])
    text = run(capsys, "features", member["run_id"][:8], "--store", store, "--epoch", "0")
    assert text[0] == 0 and "key irreps" in text[1] and "epoch 0" in text[1]


def test_a_transformer_learns_composition_in_a_nonabelian_group_through_the_cli(capsys, tmp_path):
    store = str(tmp_path / "runs.sqlite")
    (member,) = _train(capsys, store, "muon_grokking", "task.op=compose", "task.group=D10", "task.train_fraction=0.8",
                       "model.width=32", "model.depth=1", "model.heads=2", "model.dropout=0", "optim.lr=1e-2",
                       "train.batch_size=null", "train.epochs=150", "train.eval_every=10", "train.seeds=[0]",
                       "train.device=cpu", "features.every=50")
    assert member["final_train_acc"] == 1.0  # it fits the 80 training products
    series = Store(store).series([member["run_id"]])
    assert {"features.key_count", "features.restricted_loss_test", "features.covered"} <= set(series["key"])
    out = _json(capsys, "features", member["run_id"], "--store", store, "--json")
    labels = [r["irrep"] for r in out["embedding"]["spectrum"]]
    assert labels == ["1a", "1b", "2a", "2b"] and [r["degree"] for r in out["embedding"]["spectrum"]] == [1, 1, 2, 2]
    assert set(out["embedding"]["key_irreps"]) <= set(labels[1:])
    assert sum(r["fraction"] for r in out["embedding"]["spectrum"]) == pytest.approx(1, abs=1e-5)
    report = _json(capsys, "report", member["run_id"], "--store", store, "--out", tmp_path / "report", "--json")
    assert "Transformer irrep features" in report["sections"] and "Li2 diagnostics" not in report["sections"]
    assert (tmp_path / "report" / "features.png").stat().st_size > 10_000


def test_the_feature_hook_leaves_training_unchanged(capsys, tmp_path):
    common = ["muon_grokking", "task.op=compose", "task.group=S3", "model.width=16", "model.depth=2", "model.heads=2",
              "model.dropout=0.2", "train.batch_size=8", "train.epochs=12", "train.seeds=[0,1]", "train.device=cpu"]
    plain = _train(capsys, str(tmp_path / "a.sqlite"), *common)
    hooked = _train(capsys, str(tmp_path / "b.sqlite"), *common, "features.every=3")
    assert [p["run_id"] for p in plain] != [h["run_id"] for h in hooked]  # its series make it another run
    for p, h in zip(plain, hooked):  # member by member (the frames are sorted by run id)
        a = Store(tmp_path / "a.sqlite").metrics([p["run_id"]]).drop(columns="run_id").reset_index(drop=True)
        b = Store(tmp_path / "b.sqlite").metrics([h["run_id"]]).drop(columns="run_id").reset_index(drop=True)
        assert len(a) == 13 and a.equals(b)  # dropout masks, minibatch order and every metric as without the hook


def test_two_layer_runs_get_the_li2_features_from_the_same_verb(capsys, tmp_path):
    store = str(tmp_path / "runs.sqlite")
    (member,) = _train(capsys, store, "li2_fig3", "task.group=Z7", "model.width=32", "train.epochs=5", "train.progress=false")
    both = [_json(capsys, *verb, member["run_id"], "--store", store, "--json") for verb in (["features"], ["li2", "features"])]
    assert both[0] == both[1] and both[0]["group"] == "Z7" and "covered" in both[0]


def test_the_hook_follows_its_members_when_the_stack_is_compacted():
    from groklab.config import load_config
    from groklab.li2.features_hook import FeaturesHook
    from groklab.tasks.build import build_task, split_for

    cfg = load_config("muon_grokking", ["task.op=compose", "task.group=S3", "train.seeds=[0,1,2]", "features.every=5"])
    hook = FeaturesHook(cfg)
    hook.select_members([0, 2])  # member 1 stopped
    task = build_task(cfg.task)
    for position, seed in enumerate((0, 2)):
        split = split_for(cfg.task, task, seed)
        assert hook.rows["train"][position].tolist() == split.train.tolist()
        assert hook.rows["test"][position].tolist() == split.test.tolist()


def _one_line_error(capsys, *args, match):
    code, out, err = run(capsys, *args)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert match in err, err
    return err


def test_bad_feature_input_is_one_line_and_exit_2(capsys, tmp_path):
    store = str(tmp_path / "runs.sqlite")
    tiny = ["muon_grokking", "task.op=compose", "task.group=S3", "model.width=8", "model.depth=1", "train.batch_size=null",
            "train.epochs=150", "train.checkpoint_dense_until=3", "train.checkpoint_every=50", "train.snapshot_every=50",
            "train.device=cpu"]
    (member,) = _train(capsys, store, *tiny)
    rid = member["run_id"][:8]
    err = _one_line_error(capsys, "features", rid, "--store", store, "--epoch", "7", match="no snapshot at epoch 7")
    assert "saved epochs: 0-2, 50-150 every 50" in err
    (two,) = _train(capsys, store, "li2_fig3", "task.group=Z7", "model.width=8", "train.epochs=150",
                    "train.checkpoint_dense_until=3", "train.checkpoint_every=50", "train.progress=false")
    _one_line_error(capsys, "features", two["run_id"][:8], "--store", store, "--epoch", "7",
                    match="saved epochs: 0-2, 50-150 every 50")
    shutil.rmtree(tmp_path / "runs")
    _one_line_error(capsys, "features", rid, "--store", store, match="has no weight snapshots")
    _one_line_error(capsys, "features", "nope", "--store", store, match="no run 'nope'")
    # refused before anything is stored: a group beyond the feature limit, no group, the two-layer net
    for extra, match in ((["task.group=Z257"], "order ≤ 256"), (["task.op=mul", "task.modulus=7"], "needs a group task"),
                         (["model.kind=two_layer"], "needs model.kind=transformer")):
        _one_line_error(capsys, "train", *tiny, *extra, "features.every=5", f"store.path={tmp_path / 'x.sqlite'}",
                        match=match)
    assert not (tmp_path / "x.sqlite").exists() or Store(tmp_path / "x.sqlite").runs().empty
