"""The interference probe measures without disturbing: same rankings with and without it."""
import csv
import json

from tests.conftest import run_main

BASE = ["experiment=smoke", "trainer.limit_train_batches=4", "trainer.max_epochs=2", "logger=csv"]


def test_probe_measures_without_changing_the_rankings(tmp_path, cache_dir):
    plain, probed = tmp_path / "plain", tmp_path / "probed"
    run_main(*BASE, f"paths.cache_dir={cache_dir}", f"hydra.run.dir={plain}")
    run_main(*BASE, f"paths.cache_dir={cache_dir}", f"hydra.run.dir={probed}", "callbacks=with_interference",
             "callbacks.interference.every_n_steps=2")
    assert (plain / "rankings.csv").read_bytes() == (probed / "rankings.csv").read_bytes()
    with open(probed / "interference.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["step"] for r in rows} == {"0", "2", "4", "6"}
    assert {r["d"] for r in rows} == {"1", "2"}
    assert {r["op"] for r in rows} == {"conv3", "conv5", "dilconv3"}  # maxpool3 has no weights
    for r in rows:
        a, b = r["child_a"].split("-"), r["child_b"].split("-")
        layer = int(r["layer"])
        assert a[layer] == b[layer] and sum(x != y for x, y in zip(a, b)) == int(r["d"])
        assert -1 <= float(r["grad_cos"]) <= 1 and -1 <= float(r["input_cos"]) <= 1
    summary = json.loads((probed / "interference_summary.json").read_text())
    assert {"spearman_d_vs_grad_cos", "spearman_input_cos_vs_grad_cos", "grad_cos_mean_d1"} <= set(summary)
    assert (probed / "interference.png").exists()
    # Children sharing the layer-0 operator both see the stem's output: input (and so output) cosine is exactly 1.
    layer0 = [r for r in rows if r["layer"] == "0"]
    assert layer0 and all(abs(float(r["input_cos"]) - 1) < 1e-5 and abs(float(r["output_cos"]) - 1) < 1e-5
                          for r in layer0)
