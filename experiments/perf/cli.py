"""Speed benchmark: `python -m experiments.perf [--quick] [--spaces] [--device cuda] [--json PATH]`.

Prints each figure as a ratio against a baseline measured in the same process (machines are noisy):
- ranking cost: ranking every child (BatchNorm re-calibration included) / one supernet training epoch through Lightning
  (interleaved rounds, fastest of each), with the prefix tree computed node by node and with up to 64 nodes of one
  depth stacked into one call;
- prefix-tree evaluation vs. evaluating child by child (same numbers, tested);
- ground truth: children trained side by side (stacked) vs. one after another, same recipe and batches; and one
  plain SGD step of a stack vs. its children's steps alone (what the stacked kernels themselves earn);
- loop overhead: supernet steps through the LightningModule vs. a hand-written loop doing the same work, epochs
  alternating; and Lightning's own per-step cost (a bare LightningModule doing the plain step);
- memory of every sharing degree on the default space: parameters allocated, and the peak tensor memory of training
  (parameters, buffers, momentum, gradients, saved activations);
- arithmetic intensity: achieved GFLOP/s of a supernet training step vs. this machine's matrix-multiply peak, and the
  rates of the kernels behind ranking (a small convolution) and side-by-side ground truth (grouped vs. separate);
- threads: torch's own intra-op thread count vs. the one `threads: auto` chooses (benchmark/threads.py), on one
  training epoch plus one ranking, alternating, on the machine as it is and with one busy process per usable core;
- training-free proxies: seconds to score all children of the default space, per proxy, and FreeFlow on all 15,625
  NAS-Bench-201 cells;
- with --spaces: each search space's training step and ranking cost on MNIST-1D, and its step on CIFAR-10-sized batches.

Every figure times the default study's own recipe (data, space, sharing, sampler, SGD), composed from conf/.

`--device cuda` measures the same figures on the first GPU (Lightning with `accelerator="gpu"`, ground truth with
`trainer=gpu`, the matmul peak at 8192², which fills a GPU); the proxies are CPU-only and are skipped there.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from experiments.perf.ground_truth import ground_truth_throughput
from experiments.perf.kernels import arithmetic_intensity, kernel_rates
from experiments.perf.loop import loop_overhead
from experiments.perf.memory import sharing_memory, training_memory
from experiments.perf.proxies import proxy_speed
from experiments.perf.ranking import ranking_cost
from experiments.perf.recipe import Recipe
from experiments.perf.spaces import space_costs
from experiments.perf.threads import thread_choice


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer epochs and repeats (CI smoke)")
    parser.add_argument("--cache-dir", default=".cache")
    parser.add_argument("--chunk", type=int, default=16, help="children trained side by side")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--spaces", action="store_true", help="also the cost of every search space")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where to measure (default: cpu)")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is visible (torch.cuda.is_available() is False); use --device cpu")
    device = torch.device(args.device)
    default_threads = torch.get_num_threads()
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"cpu, {default_threads} threads"
    recipe = Recipe.default(args.cache_dir, device)
    results: dict = {"device": name}
    results["threads"] = thread_choice(recipe, pairs=2 if args.quick else 8, device=device, default=default_threads)
    results["ranking_cost"] = ranking_cost(recipe, rounds=1 if args.quick else 4, repeats=2 if args.quick else 3,
                                           device=device)
    results["ground_truth"] = ground_truth_throughput(recipe, children=8 if args.quick else 32,
                                                      epochs=1 if args.quick else 3, chunk=args.chunk, device=device)
    results["loop_overhead"] = loop_overhead(recipe, epochs=2 if args.quick else 20, device=device)
    results["sharing_memory"] = sharing_memory(recipe)
    results["training_memory"] = training_memory(recipe)
    results["arithmetic_intensity"] = arithmetic_intensity(recipe, repeats=2 if args.quick else 7, device=device)
    if device.type == "cpu":
        results["proxy_seconds_all_children"] = proxy_speed(recipe)
    results["kernels"] = kernel_rates(recipe, repeats=2 if args.quick else 7, device=device)
    r = results["ranking_cost"]
    print(f"device: {results['device']}  (default space: 64 children, MNIST-1D, 800 validation examples)")
    print(f"one supernet training epoch (Lightning) : {r['train_epoch_s'] * 1e3:8.1f} ms")
    print(f"rank all children, prefix tree          : {r['ranking_s'] * 1e3:8.1f} ms   "
          f"ratio to an epoch: {r['ranking_over_epoch']:.2f}  (default block={r['ranking_block']}; node by node "
          f"{r['ranking_node_by_node_s'] * 1e3:.1f} ms, stacked 64 nodes {r['ranking_stacked_s'] * 1e3:.1f} ms)")
    print(f"rank all children, child by child       : {r['ranking_child_by_child_s'] * 1e3:8.1f} ms   "
          f"prefix tree is {r['tree_speedup']:.2f}x faster")
    print(f"arithmetic: a ranking does {r['ranking_gflop']:.2f} GFLOP = "
          f"{r['ranking_gflop'] / r['epoch_gflop']:.1f}x an epoch's {r['epoch_gflop']:.2f}, "
          f"at {r['ranking_gflops_per_s']:.1f} vs {r['epoch_gflops_per_s']:.1f} GFLOP/s")
    t = results["threads"]
    print(f"threads, epoch + ranking: torch's own {t['default_threads']} vs chosen {t['chosen_threads']} "
          f"({t['reason']}): the machine as it is (load {t['load_at_start']:.1f}) {t['idle_default_s'] * 1e3:.0f} vs "
          f"{t['idle_chosen_s'] * 1e3:.0f} ms -> "
          f"{t['idle_ratio']:.2f}; under load ({t['burners']} busy processes) {t['loaded_default_s'] * 1e3:.0f} vs "
          f"{t['loaded_chosen_s'] * 1e3:.0f} ms -> {t['loaded_ratio']:.2f} (default / chosen)")
    g = results["ground_truth"]
    print(f"ground truth, {g['children']} children x {g['epochs']} epochs: side by side (chunk {g['chunk']}) "
          f"{g['stacked_s']:.1f} s, one after another {g['one_by_one_s']:.1f} s -> {g['speedup']:.2f}x "
          f"(max |test acc difference| {g['max_abs_test_acc_diff']:.4f}); one SGD step without Lightning: "
          f"{g['step_stacked_s'] * 1e3:.1f} ms for {g['step_children']} stacked, "
          f"{g['step_one_by_one_s'] * 1e3:.1f} ms one after another -> {g['step_speedup']:.2f}x")
    o = results["loop_overhead"]
    print(f"supernet steps/s: Lightning {o['lightning_steps_per_s']:.0f}, plain loop {o['plain_steps_per_s']:.0f} "
          f"-> overhead ratio {o['overhead_ratio']:.2f} (a bare LightningModule doing the plain step: "
          f"{o['bare_lightning_ratio']:.2f}; Lightning's own loop costs {o['lightning_step_cost_ms']:.2f} ms per step)")
    print("parameter memory per sharing degree (default space):")
    for m in results["sharing_memory"]:
        print(f"  {m['policy']:<24} {m['parameters']:>9,} parameters  {m['bytes'] / 1024:>8.1f} KiB  "
              f"{m['copies']:>4} unit copies")
    print("peak tensor memory of training, batch 128 (KiB: parameters + buffers + momentum + gradients + activations):")
    for name, m in results["training_memory"].items():
        print(f"  {name:<14} {m['peak'] / 1024:8.1f} = {m['parameters'] / 1024:.1f} + {m['buffers'] / 1024:.1f} + "
              f"{m['momentum'] / 1024:.1f} + {m['gradients'] / 1024:.1f} + {m['activations'] / 1024:.1f}")
    a = results["arithmetic_intensity"]
    print(f"training step (default supernet, batch 128): {a['step_gflop']:.3f} GFLOP in {a['step_s'] * 1e3:.1f} ms = "
          f"{a['achieved_gflops']:.1f} GFLOP/s; {a['matmul_size']}^2 matmul peak {a['matmul_gflops']:.1f} GFLOP/s -> "
          f"{a['fraction_of_peak']:.1%} of peak")
    k = results["kernels"]
    print(f"kernels: a 16-channel 3-tap convolution at batch 400 runs at {k['conv_gflops']:.1f} GFLOP/s; a layer of 16 "
          f"children (batch 128, fwd + bwd) takes {k['layer_separate_s'] * 1e3:.1f} ms as separate convolutions, "
          f"{k['layer_grouped_s'] * 1e3:.1f} ms as one grouped convolution")
    if "proxy_seconds_all_children" in results:
        proxy = dict(results["proxy_seconds_all_children"])
        nb201 = proxy.pop("freeflow_nb201_all_15625")
        print("training-free proxies, seconds for all 64 children: " +
              ", ".join(f"{k} {v:.2f}" for k, v in proxy.items()))
        print(f"FreeFlow on all 15,625 NAS-Bench-201 cells (CIFAR-10 shapes, float64): {nb201:.2f} s")
    if args.spaces:
        results["spaces"] = space_costs(recipe, repeats=2 if args.quick else 5, device=device)
        print("search spaces (full sharing; MNIST-1D step at batch 128, ranking with 2 calibration batches; "
              "CIFAR-10-sized step at batch 64):")
        for name, c in results["spaces"].items():
            cifar = f"  cifar10 step {c['cifar10_step_s'] * 1e3:7.1f} ms" if "cifar10_step_s" in c else ""
            print(f"  {name:<16} step {c['mnist1d_step_s'] * 1e3:6.1f} ms  epoch ~{c['mnist1d_epoch_s']:5.2f} s  "
                  f"ranking {c['ranked_children']:>3} children {c['ranking_s']:6.2f} s{cifar}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return results
