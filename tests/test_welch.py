"""experiments.welch: the Welch p-values the READMEs quote against a paper's published mean and std."""
from __future__ import annotations

import math

import pytest
from scipy import stats

from experiments.welch import AGAINST_PAPER, HERE, against_paper, main, mean_interval


def test_our_population_std_becomes_the_sample_std_before_the_test():
    row = {"gt_tau": "0.5", "gt_tau_std": "0.1", "runs": "4"}
    expected = stats.ttest_ind_from_stats(0.5, 0.1 * math.sqrt(4 / 3), 4, 0.3, 0.2, 10, equal_var=False).pvalue
    assert math.isclose(against_paper(row, 0.3, 0.2, 10), expected)


def test_every_comparison_reads_a_committed_report_and_prints_the_quoted_p(capsys):
    assert all((HERE / report / "summary.csv").is_file() for report, *_ in AGAINST_PAPER)
    main()
    out = capsys.readouterr().out
    assert "| variance/report | `sampler=round_robin` |" in out
    assert "p = 0.22" in (HERE / "variance" / "README.md").read_text() and "| 6 / 10 | 0.22 |" in out


def test_the_papers_own_rows_are_tested_as_published(capsys):
    main()
    out = capsys.readouterr().out
    assert "| 0.51 ± 0.07 | 0.46 ± 0.15 | 10 / 10 | 0.36 |" in out
    assert "p = 0.36 and 0.21" in (HERE / "samplers" / "README.md").read_text().replace("\n", " ")


def test_a_published_mean_gets_its_t_interval(capsys):
    low, high = mean_interval(0.46, 0.15, 10)
    assert (low + high) / 2 == pytest.approx(0.46) and high - low == pytest.approx(2 * 2.262157 * 0.15 / 10 ** 0.5)
    main()
    assert "| 0.35 to 0.57 |" in capsys.readouterr().out
    assert "0.35 to 0.57" in (HERE / "deeper_insights" / "README.md").read_text().replace("\n", " ")
