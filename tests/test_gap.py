"""GAP SmallGroups catalog: lookups, file format, caching, and irrep degrees against GAP."""

import json
import time

import numpy as np
import pytest

from groklab.errors import GroklabError
from groklab.groups import gap

gap_test = pytest.mark.gap  # skipped with the install hint when GAP is absent (tests/conftest.py)


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path, monkeypatch):
    """Every test gets its own empty cache directory (no default catalog)."""
    monkeypatch.setenv(gap.CACHE_ENV, str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def catalog64(tmp_path_factory):
    """All groups of order ≤ 64 (586 of them), built once per session."""
    path = tmp_path_factory.mktemp("gap") / "smallgroups64.jsonl"
    started = time.perf_counter()
    gap.build_catalog(64, out=path, progress=False)
    print(f"\nGAP catalog ≤ 64 built in {time.perf_counter() - started:.1f} s")
    return path


@gap_test
def test_smallgroup_24_12_is_s4():
    g = gap.smallgroup(24, 12)
    assert g.name == "SmallGroup(24,12)"
    assert g.smallgroup_id == (24, 12)
    assert g.order == 24
    assert len(g.conjugacy_classes) == 5
    assert not g.is_abelian
    assert g.labels is None
    assert np.bincount(g.element_orders).tolist() == [0, 1, 9, 8, 6]  # S4's element orders
    assert gap.gap_irrep_degrees(24, 12) == [1, 1, 2, 3, 3]
    assert gap.smallgroup_record(24, 12)["structure"] == "S4"


@gap_test
@pytest.mark.parametrize(
    "order, gid, message",
    [
        (8, 99, "bad group 'SmallGroup(8,99)': there are 5 groups of order 8 (ids 1..5)"),
        (8, 0, "bad group 'SmallGroup(8,0)': there are 5 groups of order 8 (ids 1..5)"),
        (1, 2, "bad group 'SmallGroup(1,2)': there is 1 group of order 1 (id 1)"),
        (0, 1, "bad group order 0"),
        (2048, 1, "does not cover order 2048"),
        (1024, 1, "does not contain them"),
    ],
)
def test_bad_ids(order, gid, message):
    with pytest.raises(GroklabError, match=None) as err:
        gap.smallgroup(order, gid)
    text = str(err.value)
    assert message in text
    assert "\n" not in text


@gap_test
def test_on_demand_cache(tmp_path, monkeypatch):
    cached = tmp_path / "cache" / "smallgroups" / "12_3.json"
    assert not cached.exists()
    g = gap.smallgroup(12, 3)  # A4
    assert cached.is_file()
    rec = json.loads(cached.read_text())
    assert rec["name"] == "SmallGroup(12,3)" and rec["irrep_degrees"] == [1, 1, 1, 3]
    # the cache answers without GAP
    monkeypatch.setenv(gap.GAP_ENV, str(tmp_path / "no-gap-here"))
    assert not gap.gap_available()
    again = gap.smallgroup(12, 3)
    assert np.array_equal(again.table, g.table)
    with pytest.raises(GroklabError, match="GAP is not installed"):
        gap.smallgroup(12, 4)


@gap_test
def test_catalog_format_round_trip(tmp_path):
    path = gap.build_catalog(12, out=tmp_path / "cat.jsonl", progress=False)
    lines = path.read_text().splitlines()
    recs = [json.loads(line) for line in lines]
    counts = {int(k): v for k, v in json.loads(gap.meta_path(path).read_text())["counts"].items()}
    assert counts == {1: 1, 2: 1, 3: 1, 4: 2, 5: 1, 6: 2, 7: 1, 8: 5, 9: 2, 10: 2, 11: 1, 12: 5}
    assert len(recs) == sum(counts.values())
    ids = [tuple(r["smallgroup_id"]) for r in recs]
    assert ids == sorted(ids) == [(n, i) for n in range(1, 13) for i in range(1, counts[n] + 1)]
    for r in recs:
        n, i = r["smallgroup_id"]
        assert r["name"] == f"SmallGroup({n},{i})" and r["order"] == n
        assert set(r) >= {"name", "order", "smallgroup_id", "num_irreps", "irrep_degrees", "table", "index_base", "abelian"}
        assert r["index_base"] == 1
        assert r["irrep_degrees"] == sorted(r["irrep_degrees"]) and len(r["irrep_degrees"]) == r["num_irreps"]
        assert sum(d * d for d in r["irrep_degrees"]) == n
        table = np.array(r["table"])
        assert table.shape == (n, n) and table.min() == 1 and table.max() == n
        assert r["abelian"] == (max(r["irrep_degrees"]) == 1)
    # reading back: records, groups, filters
    assert gap.catalog_records(path=path, tables=False)[0].get("table") is None
    groups = gap.load_catalog(path=path)
    assert [g.smallgroup_id for g in groups] == ids
    assert all(g.table.min() == 0 for g in groups)
    nonab = gap.catalog_records(path=path, nonabelian=True)
    assert [tuple(r["smallgroup_id"]) for r in nonab] == [(6, 1), (8, 3), (8, 4), (10, 1), (12, 1), (12, 3), (12, 4)]
    assert len(gap.load_catalog(max_order=8, path=path)) == 1 + 1 + 1 + 2 + 1 + 2 + 1 + 5
    assert [g.smallgroup_id for g in gap.load_catalog(path=path, max_irrep_degree_equals=3)] == [(12, 3)]
    assert gap.nonabelian_index(2, 0, path=path).smallgroup_id == (6, 1)
    assert gap.nonabelian_index(2, 5, path=path).smallgroup_id == (12, 4)
    with pytest.raises(GroklabError, match=r"indices 0\.\.5"):
        gap.nonabelian_index(2, 6, path=path)
    rows = gap.gap_catalog_summary(recs)
    assert rows[7] == {"order": 8, "groups": 5, "abelian": 3, "nonabelian": 2, "max_irrep_degree": {1: 3, 2: 2}}
    assert "total" in gap.format_catalog_summary(recs)


@gap_test
def test_filtered_build_and_default_catalog(tmp_path):
    path = gap.build_catalog(16, nonabelian=True, max_irrep_degree=2, progress=False)
    assert path == gap.default_catalog_path()
    recs = gap.catalog_records()
    assert recs and all(not r["abelian"] and max(r["irrep_degrees"]) == 2 for r in recs)
    assert (12, 3) not in [tuple(r["smallgroup_id"]) for r in recs]  # A4 has a degree-3 irrep
    # lookups go through the default catalog (no per-group cache file) and its id counts
    assert gap.smallgroup(16, 13).smallgroup_id == (16, 13)
    assert not (tmp_path / "cache" / "smallgroups").exists()
    with pytest.raises(GroklabError, match=r"there are 14 groups of order 16 \(ids 1\.\.14\)"):
        gap.smallgroup(16, 15)


def test_missing_catalog_is_a_clean_error():
    with pytest.raises(GroklabError, match="no SmallGroups catalog"):
        gap.load_catalog()


@gap_test
def test_catalog_counts_match_gap(catalog64):
    recs = gap.catalog_records(path=catalog64, tables=False)
    per_order = {}
    for r in recs:
        per_order[r["order"]] = per_order.get(r["order"], 0) + 1
    counts = {int(k): v for k, v in json.loads(gap.meta_path(catalog64).read_text())["counts"].items()}
    assert per_order == counts
    assert len(recs) == 586 and per_order[32] == 51 and per_order[64] == 267


@gap_test
def test_irrep_degrees_match_gap_for_all_nonabelian_groups_up_to_64(catalog64):
    """THE key cross-check: our numerical irreps vs GAP's CharacterDegrees, 519 groups."""
    from groklab.groups.irreps import irreps

    recs = gap.catalog_records(path=catalog64, nonabelian=True)
    assert len(recs) == 586 - sum(1 for r in gap.catalog_records(path=catalog64, nonabelian=False, tables=False))
    mismatches = []
    for rec in recs:
        group = gap.record_to_group(rec)
        ours = sorted(int(d) for d in irreps(group).degrees)
        if ours != rec["irrep_degrees"]:
            mismatches.append((rec["name"], ours, rec["irrep_degrees"]))
    assert not mismatches, mismatches[:5]


def test_without_gap_errors_name_the_install(monkeypatch, tmp_path):
    monkeypatch.setenv(gap.GAP_ENV, str(tmp_path / "no-gap-here"))
    assert not gap.gap_available()
    with pytest.raises(GroklabError) as err:
        gap.smallgroup(24, 12)
    assert str(err.value) == gap.GAP_INSTALL_HINT
    with pytest.raises(GroklabError, match="GAP is not installed"):
        gap.build_catalog(8, out=tmp_path / "x.jsonl", progress=False)


def test_reads_reference_style_records(tmp_path):
    """The reference's file may store a bare id and no `abelian` field; both are understood."""
    s3 = [[1, 2, 3, 4, 5, 6], [2, 1, 4, 3, 6, 5], [3, 5, 1, 6, 2, 4], [4, 6, 2, 5, 1, 3], [5, 3, 6, 1, 4, 2], [6, 4, 5, 2, 3, 1]]
    z2 = [[1, 2], [2, 1]]
    lines = [
        {"name": "S3", "order": 6, "smallgroup_id": 1, "num_irreps": 3, "irrep_degrees": [1, 1, 2], "table": s3, "index_base": 1},
        {"name": "C2", "order": 2, "smallgroup_id": 1, "num_irreps": 2, "irrep_degrees": [1, 1], "table": z2},
    ]
    path = tmp_path / "ref.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert [gap.record_id(r) for r in gap.catalog_records(path=path)] == [(2, 1), (6, 1)]
    g = gap.nonabelian_index(2, 0, path=path)
    assert g.name == "SmallGroup(6,1)" and g.order == 6 and not g.is_abelian and g.table.min() == 0
    assert [h.order for h in gap.load_catalog(path=path, nonabelian=False)] == [2]
    with pytest.raises(GroklabError, match="no non-abelian group"):
        gap.nonabelian_index(3, 0, path=path)
