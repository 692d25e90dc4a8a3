"""Output folders (issue 14): checked before any work, written atomically, never mixed, never stale.

Also the small input cases of the same issue: duplicate strategies and ``--vary``
paths, shipped names beside a folder of the same name, did-you-mean, zero tumours.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import console_script

from sim.catalogue import resolve_scenario, scenarios_dir
from sim.io import (
    OutputError,
    atomic_write,
    check_output_folder,
    staged_folder,
    write_text,
)
from sim.scenario import Scenario, ScenarioError
from sim.strategies import distinct_strategies, run_strategies, vary_grid

#: A liver of 300 um terminals and 300-500 um particles: a full run in about a second.
SMALL = '[liver]\nterminal_diameter_um = 300.0\n[agent]\nsize_bin = "300-500"\n'






def _one_line_exit_2(result, *fragments: str) -> str:
    """The single stderr line of a CliRunner result or CompletedProcess that exited with status 2."""
    code = getattr(result, "exit_code", getattr(result, "returncode", None))
    assert code == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("embosim: error: "), result.stderr
    assert "Traceback" not in result.stderr
    assert all(f in lines[0] for f in fragments), lines[0]
    return lines[0]


def _earlier_run(folder: Path, *extra: str) -> dict[str, bytes]:
    """Files of an earlier run (summary.json and scenario.json, plus ``extra`` names) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"summary.json": b'{"seed": 1}\n', "scenario.json": b"{}\n", **{name: b"old" for name in extra}}
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return files


def _no_partial_files(folder: Path) -> None:
    """No empty file and no temporary file anywhere under ``folder``."""
    for path in folder.rglob("*"):
        assert not path.name.endswith(".tmp"), path
        assert not (path.is_file() and path.stat().st_size == 0), path


# --- sim.io ---------------------------------------------------------------------------------


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_write(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]
    write_text(path, "new\n")
    assert path.read_text() == "new\n" and sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]


def test_staged_folder_replaces_an_earlier_run_whole(tmp_path):
    out = tmp_path / "run"
    _earlier_run(out, "curve.png")
    with staged_folder(out, marker="summary.json") as stage:
        assert stage.path.parent == tmp_path and stage.path.name.startswith(".run.staging-")
        write_text(stage.path / "summary.json", '{"seed": 2}\n')
        assert (out / "curve.png").exists()  # the earlier run is untouched until the new one is complete
    assert sorted(p.name for p in out.iterdir()) == ["summary.json"]  # no stale figure
    assert json.loads((out / "summary.json").read_text()) == {"seed": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no staging or old folder left


def test_staged_folder_failure_leaves_the_earlier_run_and_no_staging(tmp_path):
    out = tmp_path / "run"
    files = _earlier_run(out)
    with pytest.raises(KeyError), staged_folder(out, marker="summary.json") as stage:
        write_text(stage.path / "summary.json", "{}")
        raise KeyError("figure failed")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_staged_folder_deletes_staging_folders_of_killed_processes(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".run.staging-{dead.pid}-abcd1234.tmp"
    stale.mkdir()
    (stale / "summary.json").write_text("{}")
    with staged_folder(tmp_path / "run", marker="summary.json") as stage:
        write_text(stage.path / "summary.json", "{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_folder_filled_meanwhile_keeps_the_finished_output_in_a_numbered_sibling(tmp_path):
    out = tmp_path / "run"
    (tmp_path / "run-1").mkdir()
    with warnings.catch_warnings(record=True) as caught, \
            staged_folder(out, marker="summary.json", force=False) as stage:
        warnings.simplefilter("always")
        write_text(stage.path / "summary.json", '{"seed": 2}\n')
        files = _earlier_run(out)  # another process wrote a run meanwhile
    assert [str(w.message).endswith(f"wrote to {tmp_path / 'run-2'} instead") for w in caught] == [True]
    assert stage.final == tmp_path / "run-2"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == files
    assert json.loads((tmp_path / "run-2" / "summary.json").read_text()) == {"seed": 2}


def test_output_folder_rules(tmp_path):
    assert check_output_folder(tmp_path / "new", marker="summary.json", force=False).is_dir()
    _earlier_run(tmp_path / "earlier")
    with pytest.raises(OutputError, match="add --force"):
        check_output_folder(tmp_path / "earlier", marker="summary.json", force=False)
    from sim.io import staged_folder

    with pytest.raises(OutputError, match="out_dir: .* pass force=True"), \
            staged_folder(tmp_path / "earlier", marker="summary.json", force=False):  # Python's words (review 23)
        pass
    check_output_folder(tmp_path / "earlier", marker="summary.json", force=True)
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("mine")
    with pytest.raises(OutputError, match="holds no earlier embosim output"):  # never deleted, even with --force
        check_output_folder(notes, marker="summary.json", force=True)
    _earlier_run(tmp_path / "nested")
    (tmp_path / "nested" / "sub").mkdir()
    with pytest.raises(OutputError, match="and a folder of its own \\(sub\\)"):  # (review 27: "holds no earlier")
        check_output_folder(tmp_path / "nested", marker="summary.json", force=True)


# --- unwritable --out, checked before any work ------------------------------------------------


def _unprivileged() -> list[str]:
    """Prefix running a command as an unprivileged user (root ignores permission bits), or [] if not root."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot make a folder unwritable")
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.fixture
def read_only_folder():
    """An existing folder the test's command cannot write in (mode 555, command run as nobody under root)."""
    base = Path(tempfile.mkdtemp(prefix="embosim-ro-"))
    base.chmod(0o755)  # nobody may enter
    (base / "numba").mkdir(mode=0o777)
    (base / "numba").chmod(0o777)
    folder = base / "out"
    folder.mkdir(mode=0o555)
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)
    shutil.rmtree(base)


@pytest.mark.parametrize("args", [
    ["run", "--quiet"],
    ["compare", "--replicates", "1", "--quiet"],
    ["sweep", str(scenarios_dir() / "sweeps" / "size_arterialisation_catheter.toml"), "--backend", "serial"],
    ["validate", "--fast", "--quiet"],
], ids=["run", "compare", "sweep", "validate"])
def test_unwritable_out_is_one_line_exit_2_before_any_work(read_only_folder, args):
    env = {**os.environ, "HOME": str(read_only_folder), "NUMBA_CACHE_DIR": str(read_only_folder.parent / "numba")}
    started = time.monotonic()
    proc = subprocess.run([*_unprivileged(), console_script(), *args, "--out", str(read_only_folder)],
                          check=False, capture_output=True, text=True, timeout=300, env=env, cwd=read_only_folder.parent)
    _one_line_exit_2(proc, "--out", f"cannot write in {read_only_folder}", "Permission denied")
    assert time.monotonic() - started < 60  # nothing was built or run
    assert list(read_only_folder.iterdir()) == []


def test_out_under_a_regular_file_is_one_line_exit_2(invoke, tmp_path):
    (tmp_path / "file").write_text("")
    _one_line_exit_2(invoke("validate", "--out", tmp_path / "file" / "out"), "--out", "cannot create")


def test_a_run_refused_after_its_checks_leaves_no_output_folder(invoke, tmp_path):
    """A vessel the built liver does not have is found only once the liver is built: exit 2, one line, and no
    empty --out folder (nor its missing parents) left behind, as before anything is written."""
    scenario = tmp_path / "beyond.toml"
    scenario.write_text(SMALL + '[catheter]\nvessel = "#999999"\n', encoding="utf-8")
    out = tmp_path / "new" / "out"
    _one_line_exit_2(invoke("run", scenario, "--out", out, "--quiet", "--no-figures"), "catheter.vessel")
    assert not (tmp_path / "new").exists()


# --- run --out: refuse, --force, never stale, never mixed ------------------------------------


@pytest.fixture
def small_scenario(tmp_path) -> Path:
    path = tmp_path / "small.toml"
    path.write_text(SMALL, encoding="utf-8")
    return path


def test_run_refuses_an_earlier_run_before_simulating(invoke, tmp_path, monkeypatch):
    out = tmp_path / "out"
    files = _earlier_run(out, "curve.png")

    def never(*args, **kwargs):
        raise AssertionError("the simulation must not start")

    monkeypatch.setattr("sim.simulation.run", never)
    _one_line_exit_2(invoke("run", "--out", out, "--quiet"), "--out", "holds an earlier output", "--force")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == files


def test_run_force_replaces_the_earlier_run_and_leaves_no_stale_file(small_scenario, tmp_path):
    out = tmp_path / "out"
    _earlier_run(out, "curve.png", "deposition.png")
    proc = subprocess.run([console_script(), "run", str(small_scenario), "--out", str(out), "--force", "--quiet",
                           "--no-figures", "--seed", "5"], check=False, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["deposition.parquet", "report.md", "run_state.npz", "scenario.json",
                                                     "summary.json", "timeseries.csv"]
    assert json.loads((out / "summary.json").read_text())["seed"] == 5
    assert json.loads((out / "scenario.json").read_text())["procedure"]["seed"] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "small.toml"]


#: The CLI with pandas' CSV writer slowed down after writing half a file: the run is killed mid-write.
_SLOW_WRITER = """
import sys, time
import pandas as pd
real = pd.DataFrame.to_csv
def slow(self, path, **kw):
    text = real(self, None, **kw)
    with open(path, "w") as fh:
        fh.write(text[: len(text) // 2]); fh.flush()
        print("WRITING", flush=True, file=sys.stderr)
        time.sleep(60)
        fh.write(text[len(text) // 2:])
pd.DataFrame.to_csv = slow
from sim.cli import main
sys.argv[0] = "embosim"
main()
"""


def test_sigkill_while_writing_a_run_leaves_the_earlier_run_whole(small_scenario, tmp_path):
    out = tmp_path / "out"
    files = _earlier_run(out, "curve.png")
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, "run", str(small_scenario), "--out", str(out),
                             "--force", "--quiet", "--no-figures"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stderr.readline().strip() == "WRITING"  # after the simulation, in the middle of timeseries.csv
    staging = [p for p in tmp_path.iterdir() if p.name.startswith(".out.staging-")]
    assert len(staging) == 1 and (staging[0] / "summary.json").is_file()  # the new run is staged beside
    proc.kill()
    assert proc.wait() == -signal.SIGKILL
    assert {p.name: p.read_bytes() for p in out.iterdir()} == files  # the earlier run, whole and alone
    _no_partial_files(out)


# --- compare ----------------------------------------------------------------------------------


def test_compare_refuses_duplicate_strategies_and_vary_paths(invoke, tmp_path):
    out = tmp_path / "cmp"
    _one_line_exit_2(invoke("compare", "--strategies", "selective,selective", "--out", out),
                     "--strategies", "'selective' given twice")
    _one_line_exit_2(invoke("compare", "--strategies", "lobar,selective:stasis,selective", "--out", out),
                     "--strategies", "'selective' given twice")
    _one_line_exit_2(invoke("compare", "--vary", "tumours.0.arterial_fraction=0.5:1.0:2",
                            "--vary", "tumours.0.arterial_fraction=0.6:0.9:3", "--out", out),
                     "--vary", "tumours.0.arterial_fraction given twice")
    assert not out.exists()


def test_library_rejects_duplicate_strategies_and_overlapping_vary_paths():
    assert [s.label for s in distinct_strategies(["selective", "lobar", "lobar:stasis"])] == [
        "selective", "lobar", "lobar:stasis"]
    with pytest.raises(ScenarioError, match="given twice"):
        run_strategies(Scenario(), ["whole_liver", "whole_liver:sluggish"], replicates=1)
    with pytest.raises(ScenarioError, match="both set tumours.0.arterial_fraction"):
        vary_grid(Scenario(), {"tumours.arterial_fraction": [0.5], "tumours.0.arterial_fraction": [0.6]})


def test_compare_writes_a_staged_folder_and_refuses_an_earlier_one(invoke, small_scenario, tmp_path):
    out = tmp_path / "cmp"
    args = ["compare", small_scenario, "--strategies", "selective", "--replicates", "1", "--quiet", "--out", out]
    assert invoke(*args).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["comparison.csv", "comparison.md", "replicates.csv"]
    _one_line_exit_2(invoke(*args), "--out", "holds an earlier output (comparison.csv)")
    (out / "stale.png").write_text("old")
    result = invoke(*args, "--force")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["comparison.csv", "comparison.md", "replicates.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cmp", "small.toml"]


# --- scenario names ---------------------------------------------------------------------------


def test_shipped_name_resolves_beside_a_folder_of_that_name(invoke, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "main_pvt").mkdir()  # what 'embosim run main_pvt --out main_pvt' creates
    assert resolve_scenario("main_pvt") == scenarios_dir() / "main_pvt.toml"
    result = invoke("check-patient", "main_pvt")
    assert result.exit_code == 0, result.output
    assert result.stdout == invoke("check-patient", scenarios_dir() / "main_pvt.toml").stdout


def test_run_of_a_shipped_name_after_run_out_of_the_same_name(invoke, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ran = []

    class Result:
        summary = {"sace_level": 4}

        def write(self, out, *, figures, force, figure_style):
            out.mkdir(exist_ok=True)
            (out / "summary.json").write_text("{}")
            return [out / "summary.json"]

    def run(scenario, **options):
        ran.append(scenario)
        return Result()

    monkeypatch.setattr("sim.simulation.run", run)
    for out in ("main_pvt", "second"):  # the first run creates the folder main_pvt in the working directory
        result = invoke("run", "main_pvt", "--out", out, "--quiet", "--no-figures")
        assert result.exit_code == 0, result.output
        assert f"({scenarios_dir() / 'main_pvt.toml'})" in result.stdout
    assert [s.portal.thrombosis for s in ran] == ["main", "main"]


def test_a_typo_suggests_the_closest_shipped_names(invoke, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = _one_line_exit_2(invoke("run", "main_ptv"), "main_ptv", "cannot read", "did you mean main_pvt")
    assert "embosim scenarios" in line
    _one_line_exit_2(invoke("run", "segmentl_pvt"), "did you mean segmental_pvt")
    _one_line_exit_2(invoke("run", "zzz"), "zzz", "cannot read")  # nothing close: no suggestion


# --- zero tumours -----------------------------------------------------------------------------


def test_zero_tumours_report_devascularisation_as_not_applicable(tmp_path):
    scenario = tmp_path / "none.toml"
    scenario.write_text("tumours = []\n" + SMALL, encoding="utf-8")
    out = tmp_path / "out"
    proc = subprocess.run([console_script(), "run", str(scenario), "--out", str(out), "--quiet", "--no-figures"],
                          check=False, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "  tumour_devascularised_fraction: n/a" in proc.stdout.splitlines()
    assert json.loads((out / "summary.json").read_text())["tumour_devascularised_fraction"] == "nan"
    assert "| Tumour devascularised | n/a |" in (out / "report.md").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["tumour_blush_fraction"] == "nan"  # no tumour: no blush to remain (it read 1.0, "100% remains")
    assert "remains" not in summary["sace_label"] and "no tumour" in summary["sace_label"]
    series = pd.read_csv(out / "timeseries.csv")
    assert len(series) > 0 and series["tumour_blush_fraction"].isna().all()
