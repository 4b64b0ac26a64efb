import json

import pytest


@pytest.mark.slow
def test_perf_quick_prints_every_figure(tmp_path, cache_dir):
    from benchmark.perf import main

    results = main(["--quick", "--cache-dir", str(cache_dir), "--json", str(tmp_path / "perf.json")])
    saved = json.loads((tmp_path / "perf.json").read_text())
    assert set(saved) == set(results) == {"ranking_cost", "ground_truth", "loop_overhead", "sharing_memory",
                                          "proxy_seconds_all_children"}
    assert saved["ground_truth"]["max_abs_test_acc_diff"] <= 0.01
    assert saved["ranking_cost"]["tree_speedup"] > 1
