"""Sweep output folders (issue 14): resume checks every run file, the liver dump never outlives the sweep.

Also: a scheduler address Dask cannot parse and an empty sweep are refused before any work.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from cli_helpers import console_script

from sim.sweep_spec import SweepError, parse_sweep_spec, plan_sweep
from sim.sweeps import sweep

FIXED = '[fixed]\n"liver.terminal_diameter_um" = 300.0\n"agent.size_bin" = "300-500"\n'
#: 3 runs on one small liver.
THREE = 'seed = 4\n[parameters]\n"catheter.rate_ml_min" = [1.0, 1.5, 2.0]\n' + FIXED
#: 2 livers x 2 catheter positions x 2 replicates = 8 runs (the process-backend kill test).
EIGHT = ('seed = 9\nreplicates = 2\n[parameters]\n"tumours.0.arterial_fraction" = [0.7, 0.9]\n'
         '"catheter.vessel" = ["A5", "RHA"]\n' + FIXED)






def _spec(folder: Path, text: str) -> Path:
    path = folder / "spec.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def finished(tmp_path) -> tuple[Path, Path]:
    """(spec, out) of the 3-run sweep, finished serially."""
    spec = _spec(tmp_path, THREE)
    out = tmp_path / "out"
    sweep(spec, backend="serial", out=out)
    return spec, out


def test_sweep_json_and_every_run_file_carry_the_sweep_id(finished):
    _, out = finished
    sweep_id = json.loads((out / "sweep.json").read_text())["sweep_id"]
    assert len(sweep_id) == 32
    records = [json.loads(p.read_text()) for p in sorted(out.glob("runs/*.json"))]
    assert [r["run_index"] for r in records] == [0, 1, 2]
    assert all(r["sweep_id"] == sweep_id for r in records)


def test_resume_names_every_bad_run_file_and_adds_no_stray_row(finished, invoke):
    spec, out = finished
    runs = out / "runs"
    table_before = (out / "results.csv").read_bytes()
    good = json.loads((runs / "000001.json").read_text())
    (runs / "000001.json").write_text("")  # empty
    (runs / "000002.json").write_text('{"hello": "world"}')  # foreign
    (runs / "000007.json").write_text(json.dumps({**good, "run_index": 7}))  # stray index
    (runs / "000000.json").write_text(json.dumps({**json.loads((runs / "000000.json").read_text()),
                                                  "sweep_id": "0" * 32}))  # another sweep's run
    (runs / "notes.json").write_text("[1, 2]")
    (runs / ".000001.json.deadbeef.tmp").write_text('{"run_in')  # a write killed half-way

    result = invoke("sweep", spec, "--out", out, "--resume", "--backend", "serial", "--quiet")
    assert result.exit_code == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"embosim: error: {out}: 5 run file(s) are not runs of this sweep")
    for name, why in [("000000.json", "sweep_id '000"), ("000001.json", "empty)"),
                      ("000002.json", "not a run record: missing"), ("000007.json", "run index 7 outside this sweep's 0-2"),
                      ("notes.json", "not a run record")]:
        assert f"runs/{name} ({why}" in lines[0], (name, lines[0])
    assert "delete them and resume again" in lines[0]
    assert not (runs / ".000001.json.deadbeef.tmp").exists()
    assert (out / "results.csv").read_bytes() == table_before  # not rewritten with a stray row

    for name in ("000000.json", "000001.json", "000002.json", "000007.json", "notes.json"):
        (runs / name).unlink()
    table = sweep(spec, backend="serial", out=out, resume=True)
    assert table["run_index"].tolist() == [0, 1, 2] and table["error"].isna().all()


def test_resume_refuses_a_run_file_of_another_point_or_seed(finished):
    spec, out = finished
    record = json.loads((out / "runs" / "000001.json").read_text())
    (out / "runs" / "000001.json").write_text(json.dumps({**record, "seed": record["seed"] + 1}))
    with pytest.raises(SweepError, match=r"runs/000001.json \(its seed differ from run 1"):
        sweep(spec, backend="serial", out=out, resume=True)
    (out / "runs" / "000001.json").write_text(json.dumps({**record, "run_index": 2}))
    with pytest.raises(SweepError, match=r"runs/000001.json \(holds run 2, whose file is 000002.json"):
        sweep(spec, backend="serial", out=out, resume=True)


def test_resume_of_a_sweep_written_before_sweep_ids(finished):
    spec, out = finished
    manifest = json.loads((out / "sweep.json").read_text())
    del manifest["sweep_id"], manifest["run_digests"]
    (out / "sweep.json").write_text(json.dumps(manifest))
    for path in out.glob("runs/*.json"):
        record = json.loads(path.read_text())
        del record["sweep_id"], record["digest"]  # (run files carried neither then, nor sweep.json run_digests)
        path.write_text(json.dumps(record))
    (out / "runs" / "000002.json").unlink()
    table = sweep(spec, backend="serial", out=out, resume=True)
    assert len(table) == 3 and table["error"].isna().all()
    assert json.loads((out / "sweep.json").read_text())["sweep_id"] == json.loads(
        (out / "runs" / "000002.json").read_text())["sweep_id"]


def test_unreadable_sweep_json_is_one_line_exit_2(finished, invoke):
    spec, out = finished
    (out / "sweep.json").write_text("")
    result = invoke("sweep", spec, "--out", out, "--resume", "--backend", "serial", "--quiet")
    assert result.exit_code == 2 and "sweep.json" in result.stderr and "Traceback" not in result.stderr


def test_scheduler_that_is_no_address_is_one_line_exit_2_before_writing(tmp_path):
    spec = _spec(tmp_path, THREE)
    out = tmp_path / "out"
    proc = subprocess.run([console_script(), "sweep", str(spec), "--scheduler", "notanaddress", "--out", str(out)],
                          check=False, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [
        ("embosim: error: scheduler: 'notanaddress' is not a Dask scheduler address (missing port number in address "
         "'notanaddress'); give e.g. tcp://host:8786")]
    assert not out.exists()  # a retry needs no --resume; no empty folder left behind either (review 27)


@pytest.mark.parametrize("options", [{"client": "tcp://127.0.0.1:8786"}, {"backend": "dask"}])
def test_dask_backend_without_dask_is_one_line(tmp_path, monkeypatch, options):
    """A wheel installed without the cluster extra: the Dask backend says what to install, before any work."""
    import builtins

    real_import = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name.split(".")[0] in ("dask", "distributed"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    out = tmp_path / "out"
    with pytest.raises(SweepError, match=r"needs dask.distributed, which is not installed: pip install 'embosim\[cluster\]'"):
        sweep(_spec(tmp_path, THREE), out=out, **options)
    assert not out.exists()


@pytest.mark.slow
def test_unreachable_scheduler_leaves_no_sweep_json(tmp_path):
    pytest.importorskip("dask.distributed", reason="the cluster extra: pip install embosim[cluster]")
    spec = _spec(tmp_path, THREE)
    out = tmp_path / "out"
    with pytest.raises(SweepError, match="cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
        sweep(spec, client="tcp://127.0.0.1:9", out=out)
    assert not (out / "sweep.json").exists()  # a retry needs no --resume
    assert len(sweep(spec, backend="serial", out=out)) == 3


@pytest.mark.parametrize("body", ["", 'sampling = "random"\nsamples = 3\n'], ids=["grid", "random"])
def test_empty_sweep_is_refused(tmp_path, body):
    spec = _spec(tmp_path, "seed = 1\n" + body)
    with pytest.raises(SweepError, match="nothing to vary") as info:
        sweep(spec, backend="serial")
    assert info.value.path == "parameters"


def test_a_sweep_of_replicates_only_is_allowed():
    plan = plan_sweep(parse_sweep_spec({"seed": 1, "replicates": 3}))
    assert plan.n_runs == 3 and plan.points == ({},)


def _dumps(tmp: Path) -> list[Path]:
    return sorted(tmp.glob("embosim-sweep-*"))


@pytest.mark.slow
def test_sigkill_of_a_process_sweep_removes_the_liver_dump_and_leaves_whole_run_files(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    spec = _spec(tmp_path, EIGHT)
    out = tmp_path / "out"
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.Popen([console_script(), "sweep", str(spec), "--out", str(out), "--backend", "processes",
                             "--workers", "1", "--quiet"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not list(out.glob("runs/*.json")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # a run is finished: its liver is dumped and mapped by the worker
    assert proc.poll() is None, "the sweep ended before it could be killed"
    dump = _dumps(tmp)[0]
    assert sum(p.stat().st_size for p in dump.glob("liver*.joblib")) > 0
    proc.kill()
    assert proc.wait() == -signal.SIGKILL
    deadline = time.monotonic() + 30
    while _dumps(tmp) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _dumps(tmp) == [], "the liver dump outlived the killed sweep"
    for path in out.glob("runs/*"):
        assert path.suffix == ".json" or path.name.endswith(".tmp")
        if path.suffix == ".json":
            assert json.loads(path.read_text())["run_index"] == int(path.stem)

    table = sweep(spec, backend="serial", out=out, resume=True)
    assert table["run_index"].tolist() == list(range(8)) and table["error"].isna().all()
    assert list(out.glob("runs/*.tmp")) == []


def test_a_finished_process_sweep_leaves_no_dump(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    spec = _spec(tmp_path, 'seed = 2\n[parameters]\n"catheter.rate_ml_min" = [1.0, 2.0]\n' + FIXED)
    table = sweep(spec, backend="processes", workers=1)
    assert len(table) == 2 and table["error"].isna().all()
    assert _dumps(tmp_path) == []


def test_resume_refuses_a_run_file_whose_values_changed(finished):
    """Review 18: a summary value edited to "oops" (a traceback after the resume) or to NaN (into results.csv) passed
    the structural checks; each run file carries the SHA-256 of its content."""
    spec, out = finished
    path = out / "runs" / "000001.json"
    record = json.loads(path.read_text())
    assert len(record["digest"]) == 64
    key = next(k for k, v in record["summary"].items() if isinstance(v, float))
    for value in ("oops", float("nan")):
        path.write_text(json.dumps({**record, "summary": {**record["summary"], key: value}}))
        with pytest.raises(SweepError, match=r"runs/000001.json \(its content changed after it was written"):
            sweep(spec, backend="serial", out=out, resume=True)
    edited = {**record, "summary": {**record["summary"], key: 0.999}}
    del edited["digest"]  # (review 20: removing the digest too passed)
    path.write_text(json.dumps(edited))
    with pytest.raises(SweepError, match=r"runs/000001.json \(no digest"):
        sweep(spec, backend="serial", out=out, resume=True)
    path.write_text(json.dumps(record))
    assert sweep(spec, backend="serial", out=out, resume=True)["run_index"].tolist() == [0, 1, 2]


def test_sweep_refuses_files_where_its_folders_go_and_too_many_workers(finished, tmp_path):
    spec, out = finished
    (tmp_path / "a_file").write_text("")
    with pytest.raises(SweepError, match="is a file, not a folder"):
        sweep(spec, backend="serial", out=tmp_path / "a_file")
    for workers in (0, -1, 10**5, 2.5, True):
        with pytest.raises(SweepError, match="allowed a whole number of worker processes from 1 to"):
            sweep(spec, workers=workers, out=tmp_path / "w")
    # a backend whose workers are not this option's (review 52: --workers 2 --backend serial ran one at a time)
    with pytest.raises(SweepError, match="the serial backend runs one run at a time"):
        sweep(spec, workers=2, backend="serial", out=tmp_path / "w")
    with pytest.raises(SweepError, match="a Dask cluster's workers are its own") as err:
        sweep(spec, workers=2, client="tcp://127.0.0.1:9", out=tmp_path / "w")
    assert err.value.path == "workers" and not (tmp_path / "w").exists()


def test_a_killed_write_beside_runs_does_not_block_the_folder(tmp_path):
    """Review 30: a temporary file of a killed write of sweep.json made the folder refused for good ("holds files and
    no sweep"), and one of the tables survived --resume; a sweep deletes its own leftovers."""
    out = tmp_path / "out"
    out.mkdir()
    (out / ".sweep.json.0badc0de.tmp").write_text("{")  # killed while writing the manifest of a new sweep
    spec = parse_sweep_spec({"seed": 4, "parameters": {"catheter.rate_ml_min": [1.0]},
                             "fixed": {"liver.terminal_diameter_um": 400.0}})
    first = sweep(spec, backend="serial", out=out)
    (out / ".results.parquet.0badc0de.tmp").write_bytes(b"PAR1")  # killed while writing a table
    again = sweep(spec, backend="serial", out=out, resume=True)
    assert len(first) == len(again) == 1 and not list(out.glob(".*.tmp"))


def test_a_folder_another_sweep_is_writing_is_refused_and_a_killed_holder_frees_it(tmp_path):
    """Review 52: two sweeps started together into one --out both passed the empty folder's checks, both reported
    success, and the folder held one's sweep.json beside a mix of both's run files. A sweep now holds the folder
    (sim.io.folder_lock) from its checks to its tables; the operating system frees it when the holder dies."""
    import sys

    from sim.io import OutputError

    spec, out = _spec(tmp_path, THREE), tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from sim.io import folder_lock\n"
                               f"with folder_lock({str(out)!r}):\n    print('held', flush=True); time.sleep(120)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(OutputError, match=rf"is being written by a sweep already \(process {holder.pid} on "):
            sweep(spec, backend="serial", out=out)
        assert sorted(p.name for p in out.iterdir()) == [".embosim.lock"]  # nothing of the refused sweep
    finally:
        holder.kill()
        holder.wait()
    assert len(sweep(spec, backend="serial", out=out)) == 3  # the killed holder's lock died with it
    assert not (out / ".embosim.lock").exists() and (out / "sweep.json").exists()


def test_a_sweep_stopped_before_its_runs_removes_the_folder_it_made(tmp_path):
    from sim.io import folder_lock

    with folder_lock(tmp_path / "new"):
        assert (tmp_path / "new").is_dir()
    assert not (tmp_path / "new").exists()  # made for the lock only: gone (a retry needs no --resume)
    (tmp_path / "old").mkdir()
    with folder_lock(tmp_path / "old"):
        pass
    assert (tmp_path / "old").is_dir()  # not this writer's to remove


@pytest.mark.parametrize("banner", [b"SSH-2.0-OpenSSH_9.2p1 Debian\r\n", b""], ids=["ssh", "silent"])
def test_a_port_that_is_no_dask_scheduler_is_one_line_before_writing(tmp_path, monkeypatch, banner):
    """Review 52: --scheduler at an SSH port said "not enough memory ... 2.82 EiB" (Dask read the banner as a message
    length); at a port that never answers (an HTTP server) the sweep hung for good."""
    pytest.importorskip("dask.distributed", reason="the cluster extra: pip install embosim[cluster]")
    import socket
    import threading

    import sim.sweeps

    server = socket.create_server(("127.0.0.1", 0))
    held = []

    def serve():
        while True:
            try:
                connection, _ = server.accept()
            except OSError:  # closed: the test is over
                return
            held.append(connection)
            connection.sendall(banner)

    threading.Thread(target=serve, daemon=True).start()
    monkeypatch.setattr(sim.sweeps, "SCHEDULER_TIMEOUT_S", 2.0)
    address, out = f"tcp://127.0.0.1:{server.getsockname()[1]}", tmp_path / "out"
    started = time.monotonic()
    try:
        with pytest.raises(SweepError) as err:
            sweep(_spec(tmp_path, THREE), client=address, out=out)
    finally:
        server.close()
        for connection in held:
            connection.close()
    assert time.monotonic() - started < 15 and err.value.path == "scheduler" and not out.exists()
    expected = "is not a Dask scheduler" if banner else "cannot reach the Dask scheduler at .* \\(no answer in 2 s\\)"
    assert re.search(expected, err.value.message), err.value.message
