"""Every command the README, the docs and the experiments give is one the code accepts: each `python run.py` line
composes and validates as written (each value of a sweep in turn), each `python -m benchmark.report` line parses.
A renamed key or option then fails here, not in a reader's first hour.

The experiments' scripts are run for real, in a copy of the tree, with `python` (and `nvidia-smi`) replaced by a stub
that records its arguments: their loops and variables expand as they would, and nothing trains."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from itertools import chain
from pathlib import Path

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import ConfigCompositionException

from benchmark.errors import ConfigError
from benchmark.report.__main__ import parse
from benchmark.validation import check_moved, validate
from tests.conftest import ROOT

DOCS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md")),
        *sorted((ROOT / "experiments").glob("**/README.md"))]
SCRIPTS = sorted((ROOT / "experiments").glob("**/*.sh"))
#: What a text leaves for the reader to fill in (`partition=<p>`, `multirun/.../last.ckpt`, `shard=K`): an override
#: holding one is not checkable and is left out; in a report's arguments it stands for any folder.
PLACEHOLDER = re.compile(r"<[^>]*>|\.\.\.|=[A-Z]$")
#: The stand-in for `python` in a script: records its arguments (separated by US, commands by RS) and, for a
#: `run.py -m` sweep into a named folder, leaves the job folders' `.hydra/overrides.yaml` as Hydra would, for the
#: script's later lines that look for them.
STUB = f"""#!{sys.executable}
import itertools, os, sys
from pathlib import Path
args = sys.argv[1:]
with open(os.environ["COMMAND_LOG"], "a") as log:
    log.write("".join(a + "\\x1f" for a in args) + "\\x1e")
overrides = [a for a in args[1:] if not a.startswith("-")]
sweep = [a.split("=", 1)[1] for a in overrides if a.startswith("hydra.sweep.dir=")]
if args[:1] == ["run.py"] and "-m" in args and sweep:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    parsed = OverridesParser.create().parse_overrides([o for o in overrides if not o.startswith("hydra")])
    values = [[f"{{o.get_key_element()}}={{v}}" for v in o.sweep_string_iterator()] if o.is_sweep_override()
              else [o.input_line] for o in parsed]
    for job, combo in enumerate(itertools.product(*values)):
        folder = Path(sweep[0]) / str(job) / ".hydra"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "overrides.yaml").write_text("".join(f"- {{o}}\\n" for o in combo))
"""


def markdown_commands(text: str) -> list[str]:
    """Commands in fenced blocks (continuation lines joined, one per line) and in inline code spans. A command shown
    with the `error:` it prints is an example of a refusal, not a promise: left out."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, re.S)
    lines = [line.strip().removeprefix("$ ") for block in blocks
             for line, after in _with_next(re.sub(r"\\\n\s*", " ", block).splitlines())
             if not after.startswith("error:")]
    spans = [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", re.sub(r"```.*?```", "", text, flags=re.S))]
    return [c for c in lines + spans if re.search(r"\bpython (run\.py|-m benchmark\.report)\b", c)]


def _with_next(lines: list[str]) -> list[tuple[str, str]]:
    return list(zip(lines, [*lines[1:], ""]))


def argv_of(command: str) -> list[str]:
    """The arguments of the first python call of a shell line, after any `VAR=value` prefix and before a pipe."""
    words = shlex.split(command, comments=True)
    start = words.index("python") + 1
    words = words[start:]
    end = next((i for i, w in enumerate(words) if w in ("|", "&&", ";", "||", ">", "2>&1")), len(words))
    return words[:end]


def script_commands(script: Path, tmp: Path) -> list[list[str]]:
    """Run `script` in a copy of the experiments' scripts with a recording `python`: what it would call."""
    tree = tmp / "tree"
    for file in SCRIPTS:
        (tree / file.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(file, tree / file.relative_to(ROOT))
    stubs = tmp / "bin"
    stubs.mkdir()
    for name, body in (("python", STUB), ("nvidia-smi", "#!/bin/sh\necho 'GPU 0: stub'\n")):
        (stubs / name).write_text(body)
        (stubs / name).chmod(stat.S_IRWXU)
    log = tmp / "commands"
    env = {**os.environ, "PATH": f"{stubs}{os.pathsep}{os.environ['PATH']}", "COMMAND_LOG": str(log)}
    done = subprocess.run(["bash", str(tree / script.relative_to(ROOT))], env=env, cwd=tree, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, f"{script.relative_to(ROOT)} failed with its python stubbed:\n{done.stderr}"
    text = log.read_text() if log.exists() else ""
    return [record.split("\x1f")[:-1] for record in text.split("\x1e")[:-1]]


def documented() -> list[tuple[str, list[str]]]:
    out = []
    for doc in DOCS:
        for command in markdown_commands(doc.read_text()):
            out.append((f"{doc.relative_to(ROOT)}: {command}", argv_of(command)))
    return out


def overrides_to_compose(argv: list[str]) -> list[list[str]]:
    """run.py's overrides as lists to compose: placeholders dropped, and a sweep (`a=x,y`) tried one value at a time
    with every other sweep at its first value (of seeds, only the first)."""
    overrides = [a for a in argv[1:] if not a.startswith("-") and not PLACEHOLDER.search(a)]
    parsed = OverridesParser.create().parse_overrides(overrides)
    base = [o.input_line if not o.is_sweep_override() else f"{o.get_key_element()}={next(o.sweep_string_iterator())}"
            for o in parsed]
    variants = [base]
    for i, o in enumerate(parsed):
        if o.is_sweep_override() and o.get_key_element() != "seed":  # seeds: one is checked like any other
            variants += [base[:i] + [f"{o.get_key_element()}={v}"] + base[i + 1:]
                         for v in list(o.sweep_string_iterator())[1:]]
    return variants


#: Override lists already composed and validated in this process: scripts repeat them from sweep to sweep.
ACCEPTED: set[tuple[str, ...]] = set()


def check(argv: list[str], make_cfg) -> None:
    if argv[:1] == ["run.py"]:
        for overrides in overrides_to_compose(argv):
            if tuple(overrides) not in ACCEPTED:
                check_moved(overrides)
                validate(make_cfg(*overrides))
                ACCEPTED.add(tuple(overrides))
    elif argv[:2] == ["-m", "benchmark.report"] and argv[2:]:  # without arguments: the tool named, not a command
        parse([PLACEHOLDER.sub("x", a) for a in argv[2:]])


def test_commands_are_found_in_every_kind_of_text():
    text = ("Run `python run.py seed=1\n  sharing=partial` or\n```bash\npython run.py -m seed=0,1 \\\n  "
            "sampler=fair  # why\nls\n$ WANDB_MODE=online python -m benchmark.report a --out b | tee x\n"
            "$ python run.py sharing.groups=0\nerror: sharing.groups=0 is not valid\n```\n")
    assert [argv_of(c) for c in markdown_commands(text)] == [
        ["run.py", "-m", "seed=0,1", "sampler=fair"], ["-m", "benchmark.report", "a", "--out", "b"],
        ["run.py", "seed=1", "sharing=partial"]]
    assert overrides_to_compose(["run.py", "-m", "seed=0,1", "sampler=uniform,fair", "ckpt_path=a/.../b"]) == [
        ["seed=0", "sampler=uniform"], ["seed=0", "sampler=fair"]]


def test_a_renamed_key_is_caught(make_cfg):
    with pytest.raises(ConfigCompositionException, match="sharing.group"):
        check(["run.py", "sharing=partial", "sharing.group=4"], make_cfg)
    with pytest.raises(ConfigError, match="trainer.max_epochs"):
        check(["run.py", "-m", "seed=0,1", "trainer.max_epochs=10,0"], make_cfg)
    with pytest.raises(SystemExit):
        check(["-m", "benchmark.report", "runs", "--lastk", "3"], make_cfg)


@pytest.mark.parametrize("where, argv", documented(), ids=lambda x: x if isinstance(x, str) else "")
def test_a_documented_command_is_accepted(where, argv, make_cfg):
    check(argv, make_cfg)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_of_an_experiment_script_is_accepted(script, make_cfg, tmp_path):
    commands = script_commands(script, tmp_path)
    assert any(argv[:1] == ["run.py"] for argv in commands), "the stub recorded no run.py call"
    for argv in commands:
        check(argv, make_cfg)


def test_the_docs_give_commands_at_all():
    assert len(documented()) > 40 and len(SCRIPTS) >= 10
    assert set(chain.from_iterable(argv[:2] for _, argv in documented())) >= {"run.py", "-m"}
