import json

import pytest


@pytest.mark.slow
def test_perf_quick_prints_every_figure(tmp_path, cache_dir):
    from experiments.perf.cli import main

    results = main(["--quick", "--spaces", "--cache-dir", str(cache_dir), "--json", str(tmp_path / "perf.json")])
    saved = json.loads((tmp_path / "perf.json").read_text())
    assert set(saved) == set(results) == {"device", "ranking_cost", "ground_truth", "loop_overhead", "sharing_memory",
                                          "training_memory", "arithmetic_intensity", "proxy_seconds_all_children",
                                          "kernels", "spaces", "threads"}
    assert set(saved["spaces"]) == {"chain", "deeper_insights", "nb201", "transformer"}
    memory = saved["training_memory"]
    assert memory["none"]["parameters"] > memory["full"]["parameters"] and memory["full"]["activations"] > 0
    assert 0 < saved["arithmetic_intensity"]["fraction_of_peak"] < 1
    assert saved["ground_truth"]["max_abs_test_acc_diff"] <= 0.01
    assert saved["ground_truth"]["step_children"] == 8 and saved["ground_truth"]["step_speedup"] > 0  # --quick: 8
    assert saved["ranking_cost"]["tree_speedup"] > 1 and saved["ranking_cost"]["ranking_block"] == 1  # CPU default
    assert saved["ranking_cost"]["ranking_stacked_s"] > 0 and saved["device"].startswith("cpu")
    assert saved["ranking_cost"]["ranking_gflop"] > saved["ranking_cost"]["epoch_gflop"] > 0
    assert "bare_lightning_ratio" in saved["loop_overhead"] and saved["kernels"]["conv_gflops"] > 0
    threads = saved["threads"]
    assert threads["chosen_threads"] >= 1 and threads["idle_ratio"] > 0 and threads["loaded_ratio"] > 0
    assert threads["burners"] >= 1 and "per process" in threads["reason"]
