"""Training-free proxies on hand-checkable networks, determinism, and no data for data-free proxies."""
import pytest
import torch
from torch import nn

from benchmark import proxies
from benchmark.errors import ConfigError
from benchmark.spaces import ChainSpace, DataShape

SHAPE = DataShape(channels=1, length=40, num_classes=10)


def test_params_and_flops_exact():
    net = nn.Sequential(nn.Conv1d(1, 4, 3, padding=1, bias=False), nn.Flatten(), nn.Linear(4 * 40, 10))
    assert proxies.params(net, SHAPE, None) == 12 + 160 * 10 + 10
    assert proxies.flops(net, SHAPE, None) == 2 * (4 * 40 * 3 + 160 * 10)
    space = ChainSpace()
    # conv3 children: stem 16*40*3 + three 16x16x3 convs over 40 positions + head 128 -> 10
    conv3 = 2 * (16 * 40 * 3 + 3 * 16 * 40 * 16 * 3 + 128 * 10)
    assert proxies.flops(space.build_child(0, SHAPE), SHAPE, None) == conv3
    assert proxies.flops(space.build_child(63, SHAPE), SHAPE, None) == 2 * (16 * 40 * 3 + 128 * 10)


def test_flops_count_images_positions_and_attention():
    image = DataShape(channels=3, length=8, num_classes=10, height=8)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.Flatten(), nn.Linear(4 * 64, 10))
    assert proxies.flops(net, image, None) == 2 * (4 * 64 * 27 + 256 * 10)

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha, self.ffn = nn.MultiheadAttention(8, 2, batch_first=True), nn.Linear(8, 8)

        def forward(self, x):  # (1, 8 channels, 5 positions) -> (1, 5, 8)
            h = x.transpose(1, 2)
            return self.ffn(self.mha(h, h, h, need_weights=False)[0])

    shape = DataShape(channels=8, length=5, num_classes=8)
    # q/k/v and output projections 4*L*E*E, scores and weighted sum 2*L*L*E, ffn L*E*E
    assert proxies.flops(Attention(), shape, None) == 2 * (4 * 5 * 64 + 2 * 25 * 8 + 5 * 64)


def test_a_proxy_undefined_on_a_space_is_named_and_skipped(caplog):
    from benchmark.spaces import TransformerSpace

    space = TransformerSpace()  # child 0 is attention only: no activation codes for nwot
    batch = (torch.randn(8, 1, 40), torch.randint(10, (8,)))
    rows = proxies.score_children(space, [0, 1], SHAPE, ["params", "nwot"], batch)
    assert {r["proxy"] for r in rows} == {"params"} and "proxy nwot skipped on TransformerSpace" in caplog.text


def test_synflow_of_a_linear_network_has_its_closed_form():
    """Without biases R is linear in each layer's |W|, so sum w * dR/dw = R per layer: synflow = layers * R."""
    torch.manual_seed(0)
    shape = DataShape(channels=1, length=5, num_classes=3)
    net = nn.Sequential(nn.Flatten(), nn.Linear(5, 4, bias=False), nn.Linear(4, 3, bias=False))
    w1, w2 = net[1].weight.abs().double(), net[2].weight.abs().double()
    R = (w2 @ w1 @ torch.ones(5, dtype=torch.float64)).sum()
    assert proxies.synflow(net, shape, None) == pytest.approx(2 * float(R))


def test_freeflow_scores_children_by_their_ops():
    space = ChainSpace()
    scores = proxies.freeflow(space, SHAPE, seed=0)
    assert len(scores) == 64 and all(v > 0 for v in scores.values())
    # A child's score is the sum of its ops' scores: swapping one op changes it by the ops' difference.
    a, b, c, d = (space.index(x) for x in [(0, 0, 0), (1, 0, 0), (0, 0, 1), (1, 0, 1)])
    assert scores[b] - scores[a] == pytest.approx(scores[d] - scores[c])
    assert scores == proxies.freeflow(space, SHAPE, seed=0)


def test_every_proxy_is_deterministic_and_data_free_ones_need_no_data():
    space = ChainSpace(layers=2, ops=["conv3", "maxpool3"])
    x, y = torch.randn(32, 1, 40), torch.randint(10, (32,))
    rows = proxies.score_children(space, range(4), SHAPE, list(proxies.PROXIES), (x, y), seed=1)
    again = proxies.score_children(space, range(4), SHAPE, list(proxies.PROXIES), (x, y), seed=1)
    assert [r["score"] for r in rows] == [r["score"] for r in again]
    assert {r["proxy"] for r in rows} == set(proxies.PROXIES) and len(rows) == 4 * len(proxies.PROXIES)
    free = proxies.score_children(space, range(4), SHAPE, list(proxies.DATA_FREE), batch=None)
    assert len(free) == 4 * len(proxies.DATA_FREE)
    with pytest.raises(ConfigError, match="a data batch"):
        proxies.score_children(space, range(4), SHAPE, ["snip"], batch=None)
    with pytest.raises(ConfigError, match="one of"):
        proxies.score_children(space, range(4), SHAPE, ["zen"], batch=None)


def test_proxies_task_writes_scores_and_judges_them(make_cfg, tmp_path):
    from hydra.utils import get_method

    table = tmp_path / "truth.csv"
    space = ChainSpace(layers=2, ops=["conv3", "maxpool3"])
    table.write_text("child,test_acc\n" + "".join(f"{space.name(i)},{i / 4}\n" for i in range(4)))
    cfg = make_cfg("task=proxies", "search_space.layers=2", "search_space.ops=[conv3,maxpool3]", "data=digits",
                   "proxies=[params,synflow,nwot]", f"ground_truth.path={table}")
    result = get_method(cfg.task.fn)(cfg)
    assert set(result) == {"params/gt_tau", "synflow/gt_tau", "nwot/gt_tau"}
    out = tmp_path / "out"
    assert len((out / "proxies.csv").read_text().splitlines()) == 1 + 3 * 4
    assert (out / "proxies_summary.csv").read_text().startswith("proxy,gt_tau")
