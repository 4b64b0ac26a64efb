"""tests/conftest.py's hooks: how many xdist workers `-n auto` starts, which kind each test is, and which tests stay
on one worker because they share an expensive fixture."""
import pytest

from tests import conftest


@pytest.fixture(scope="module")
def shared_run():
    return object()


def test_auto_workers_are_the_usable_cores_and_none_on_one(monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_AUTO_NUM_WORKERS", raising=False)
    monkeypatch.setattr(conftest.threads, "usable_cores", lambda: (4, "4 cores usable"))
    assert conftest.pytest_xdist_auto_num_workers(None) == 4
    monkeypatch.setattr(conftest.threads, "usable_cores", lambda: (1, "1 core usable"))
    assert conftest.pytest_xdist_auto_num_workers(None) == 0
    monkeypatch.setenv("PYTEST_XDIST_AUTO_NUM_WORKERS", "3")
    assert conftest.pytest_xdist_auto_num_workers(None) is None  # xdist's own hook reads the variable


def test_the_kind_is_read_from_what_a_test_calls():
    assert conftest._kind(["proc = run_forked('-m', 'seed=0,1')"]) == "cli"
    assert conftest._kind(["cfg = make_cfg('sharing=partial')", "subprocess.run(['ruff'])"]) == "cli"
    assert conftest._kind(["cfg = make_cfg('sharing=partial')"]) == "integration"
    assert conftest._kind(["build_report([sweep], out, last_k=1)"]) == "integration"
    assert conftest._kind(["assert metrics.kendall_tau(a, b) == 1"]) == "unit"


def test_this_test_is_a_unit_test_without_a_group(request):
    assert request.node.get_closest_marker("unit") is not None
    assert request.node.get_closest_marker("xdist_group") is None


def test_a_test_sharing_a_module_fixture_is_grouped_by_it(request, shared_run, cache_dir):
    [group] = list(request.node.iter_markers("xdist_group"))  # cache_dir is cheap: every worker may make it
    assert group.args[0].endswith("test_suite_layout.shared_run")
    assert request.node.get_closest_marker("integration") is not None  # it names cache_dir


def test_ddp_tests_share_one_group():
    from tests import test_ddp

    assert (test_ddp.pytestmark.name, test_ddp.pytestmark.args) == ("xdist_group", ("ddp",))
