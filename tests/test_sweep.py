"""fp.sweep: results, stores that resume, errors recorded, executors (processes, Dask) agreeing with serial.

The sweep functions here are cheap and exact (``a * b`` and friends), so every stored value
can be checked exactly; a ``log`` setting makes each computation append its point to a file,
which counts what was (re)computed across processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import fpsolve as fp
from fpsolve.sweep import SweepError

xr = pytest.importorskip("xarray")
pytest.importorskip("zarr")

KILL_AFTER = 8  # points the killed sweep has finished (at least) before SIGKILL
KILL_TIMEOUT = 60.0  # seconds to wait for the subprocess to get that far (loaded machine)


def product(a: float, b: float, log: str | None = None) -> dict:
    if log is not None:
        with open(log, "a") as f:
            f.write(json.dumps([a, b]) + "\n")
    return {"ab": a * b, "pair": np.array([a, b])}


def fails_on_three(a: float, b: float) -> dict:
    if a == 3:
        raise ZeroDivisionError(f"a = {a} is bad")
    return {"ab": a * b}


def flaky(a: float, b: float, log: str) -> dict:
    product(a, b, log)
    if a == 3 and not os.environ.get("FPSOLVE_TEST_HEALED"):
        raise RuntimeError("not yet")
    return {"ab": a * b}


def ragged(a: float, b: float) -> dict:
    return {"ab": a * b} if a < 3 else {"other": a}


def labelled(a: float, scheme: str) -> dict:
    return {"value": a * len(scheme)}


AXES = {"a": [1.0, 2.0, 3.0], "b": [10, 20]}


def threads(a: float, b: float) -> dict:
    """Numba's thread count while the point runs."""
    import numba

    return {"threads": float(numba.get_num_threads())}


def logged(path) -> list:
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [tuple(json.loads(line)) for line in f]


def test_serial_dataset_has_coordinates_variables_and_attributes(capsys):
    ds = fp.sweep(product, AXES, executor="serial")
    assert list(ds.ab.dims) == ["a", "b"]
    np.testing.assert_array_equal(ds.a.values, AXES["a"])
    np.testing.assert_array_equal(ds.b.values, AXES["b"])
    assert ds.b.dtype.kind == "i"
    np.testing.assert_array_equal(ds.ab.values, np.outer(AXES["a"], AXES["b"]))
    assert ds.pair.dims == ("a", "b", "pair_dim_0")
    np.testing.assert_array_equal(ds.pair.sel(a=2.0, b=20).values, [2.0, 20.0])
    assert ds.attrs["sweep_function"] == f"{__name__}:product"
    assert ds.attrs["fpsolve_version"] == fp.__version__
    assert ds.attrs["n_failed"] == 0 and ds.attrs["n_done"] == 6
    assert (ds.error.values == "").all() and (ds.status.values == 1).all()
    err = capsys.readouterr().err
    assert "6 of 6 points done" in err and "0 failed" in err


def test_settings_reach_the_function_and_are_recorded(tmp_path):
    log = str(tmp_path / "log")
    ds = fp.sweep(
        product, {"a": [1.0], "b": [2.0]}, executor="serial", settings={"log": log}, progress=False
    )
    assert json.loads(ds.attrs["sweep_settings"]) == {"log": log}
    assert logged(log) == [(1.0, 2.0)]


def test_string_axis_values_are_passed_and_kept():
    ds = fp.sweep(
        labelled,
        {"a": [1.0, 2.0], "scheme": ["iid", "without_replacement"]},
        executor="serial",
        progress=False,
    )
    assert ds.value.sel(a=2.0, scheme="iid") == 6.0
    assert list(ds.scheme.values) == ["iid", "without_replacement"]


def test_rerun_on_the_store_recomputes_nothing(tmp_path):
    store, log = tmp_path / "s.zarr", str(tmp_path / "log")
    first = fp.sweep(
        product, AXES, store=store, executor="serial", settings={"log": log}, progress=False
    )
    assert len(logged(log)) == 6
    again = fp.sweep(
        product, AXES, store=store, executor="serial", settings={"log": log}, progress=False
    )
    assert len(logged(log)) == 6
    xr.testing.assert_identical(first.drop_attrs(), again.drop_attrs())
    # readable without fpsolve: plain xarray on the zarr store, finished points flagged in `status`
    plain = xr.open_zarr(store).load()
    np.testing.assert_array_equal(plain.ab.values, first.ab.values)
    assert (plain.status.values == 1).all()


def test_errors_record_goes_on_and_stores_the_failure(tmp_path, capsys):
    store = tmp_path / "s.zarr"
    ds = fp.sweep(fails_on_three, AXES, store=store, executor="serial", errors="record")
    assert ds.attrs["n_failed"] == 2
    assert np.isnan(ds.ab.sel(a=3.0)).all()
    np.testing.assert_array_equal(ds.ab.sel(a=2.0).values, [20.0, 40.0])
    assert ds.error.sel(a=3.0, b=10).item() == "ZeroDivisionError: a = 3.0 is bad"
    assert ds.error.sel(a=1.0, b=10).item() == ""
    assert (ds.status.sel(a=3.0).values == 2).all()
    err = capsys.readouterr().err
    assert "2 failed" in err and "failed {'a': 3.0, 'b': 10}: ZeroDivisionError" in err
    stored = xr.open_zarr(store).load()
    assert stored.error.sel(a=3.0, b=20).item() == "ZeroDivisionError: a = 3.0 is bad"


def test_errors_raise_raises_the_original_exception_naming_the_point(tmp_path):
    store = tmp_path / "s.zarr"
    with pytest.raises(ZeroDivisionError, match="a = 3.0 is bad") as info:
        fp.sweep(
            fails_on_three, AXES, store=store, executor="serial", errors="raise", progress=False
        )
    assert any("{'a': 3.0, 'b': 10}" in note for note in info.value.__notes__)
    kept = xr.open_zarr(store).load()
    assert (kept.status.sel(a=[1.0, 2.0]).values == 1).all()  # finished points stay in the store
    assert (kept.status.sel(a=3.0).values == 0).all()  # the failed one is not marked


def test_retry_failed_recomputes_only_the_failed_points(tmp_path):
    store, log = tmp_path / "s.zarr", str(tmp_path / "log")

    def run(**options):
        return fp.sweep(flaky, AXES, store=store, executor="serial", errors="record",
                        progress=False, settings={"log": log}, **options)

    first = run()
    assert first.attrs["n_failed"] == 2 and len(logged(log)) == 6
    run()
    assert len(logged(log)) == 6  # failed points are finished points: kept by default
    os.environ["FPSOLVE_TEST_HEALED"] = "1"
    try:
        healed = run(retry_failed=True)
    finally:
        del os.environ["FPSOLVE_TEST_HEALED"]
    assert sorted(logged(log)[6:]) == [(3.0, 10), (3.0, 20)]
    assert healed.attrs["n_failed"] == 0 and (healed.error.values == "").all()
    assert (xr.open_zarr(store).load().error.values == "").all()  # the old messages are cleared


def test_progress_bar_when_asked(capsys):
    fp.sweep(product, AXES, executor="serial", progress=True)
    err = capsys.readouterr().err
    assert "6/6" in err and "product" in err


def test_outputs_that_change_names_are_recorded_as_failures():
    ds = fp.sweep(ragged, AXES, executor="serial", errors="record", progress=False)
    assert ds.attrs["n_failed"] == 2
    assert "every point must return the same names and shapes" in ds.error.sel(a=3.0, b=10).item()


@pytest.mark.parametrize(
    "other, match",
    [
        (
            {"axes": {"a": [1.0, 2.0, 4.0], "b": [10, 20]}},
            r"axes\['a'\]: store has \[1.0, 2.0, 3.0\]",
        ),
        (
            {"axes": {"b": [10, 20], "a": [1.0, 2.0, 3.0]}},
            r"axes: store has \[\"a\", \"b\"\], this sweep \[\"b\", \"a\"\]",
        ),
        (
            {"func": fails_on_three},
            r"function: store has test_sweep:product, this sweep test_sweep:fails_on_three",
        ),
        ({"settings": {"log": "elsewhere"}}, r"settings: store has \{\}"),
    ],
)
def test_a_store_of_another_sweep_is_refused_saying_what_differs(tmp_path, other, match):
    store = tmp_path / "s.zarr"
    fp.sweep(product, AXES, store=store, executor="serial", progress=False)
    func = other.get("func", product)
    if func is fails_on_three:
        kwargs = {}
    else:
        kwargs = {"settings": other.get("settings")}
    with pytest.raises(SweepError, match=match):
        fp.sweep(
            func, other.get("axes", AXES), store=store, executor="serial", progress=False, **kwargs
        )


def test_a_directory_that_is_not_a_sweep_store_is_refused(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "notes.txt").write_text("mine")
    with pytest.raises(SweepError, match="is not a zarr store|not written by fpsolve.sweep"):
        fp.sweep(product, AXES, store=tmp_path / "s", executor="serial", progress=False)


@pytest.mark.parametrize(
    "axes, match",
    [
        ({}, "axes must name at least one parameter"),
        ({"a": [], "b": [1]}, r"axes\['a'\] must hold at least one value"),
        ([("a", [1.0]), ("a", [2.0])], "axes must not repeat a name; got 'a' twice"),
        ({"a": [1.0], "c": [1.0]}, r"has no keyword argument 'c'.*accepts \['a', 'b', 'log'\]"),
        ({"a": [1.0], "bb": [1.0]}, "did you mean 'b'"),
        (
            {"a": ["x"], "b": [1.0]},
            r"axes\['a'\] must hold numbers .*annotates a as float.*got 'x'",
        ),
        ({"a": [1.0, 1.0], "b": [1.0]}, r"axes\['a'\] must not repeat a value"),
        ({"a": [1.0, "x"], "b": [1.0]}, "mixes numbers and strings"),
        ({"a": [[1.0, 2.0]], "b": [1.0]}, "must be a flat list of values"),
        ({"a": [np.nan], "b": [1.0]}, r"axes\['a'\]\[0\] must be finite"),
        ({"a": 1.0, "b": [1.0]}, r"axes\['a'\] must be a list of values"),
        ({"a": [1.0]}, r"needs \['b'\]: give each as an axis or a setting"),
        ("a", "axes must map parameter names to lists of values"),
    ],
)
def test_bad_axes_are_refused(axes, match):
    with pytest.raises(SweepError, match=match):
        fp.sweep(product, axes, executor="serial", progress=False)


def test_integer_parameters_need_integer_values():
    with pytest.raises(SweepError, match=r"axes\['batch_size'\] must hold integers.*got 2.5"):
        fp.sweep(
            fp.diagrams.gaussian_mean,
            {"learning_rate": [1e-3], "batch_size": [2.5]},
            executor="serial",
        )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"errors": "ignore"}, r"errors must be one of \('raise', 'record'\); got 'ignore'"),
        ({"executor": 3}, "executor must be 'serial', 'processes'"),
        ({"executor": "proceses"}, "did you mean 'processes'"),
        ({"progress": "yes"}, "progress must be True, False or None"),
        ({"settings": {"a": 1.0}}, "'a' is both an axis and a setting"),
        ({"settings": {"log": object()}}, "settings must be JSON-serialisable"),
        ({"executor": "processes", "n_workers": 0}, "n_workers must be a positive integer; got 0"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(SweepError, match=match):
        fp.sweep(product, AXES, **{"progress": False, **kwargs})


def test_unpicklable_functions_are_refused_for_process_workers():
    with pytest.raises(SweepError, match="func must be picklable to run on processes workers"):
        fp.sweep(
            lambda a, b: {"ab": a * b}, AXES, executor="processes", n_workers=1, progress=False
        )


def test_a_missing_extra_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "zarr", None)
    with pytest.raises(
        ImportError, match=r"part of the 'sweep' extra.*pip install \"fpsolve\[sweep\]\""
    ):
        fp.sweep(product, AXES, store="unused.zarr", executor="serial", progress=False)


def test_process_pool_gives_the_serial_dataset(tmp_path):
    log = str(tmp_path / "log")
    serial = fp.sweep(product, AXES, executor="serial", progress=False)
    with ProcessPoolExecutor(2) as pool:
        pooled = fp.sweep(
            product,
            AXES,
            executor=pool,
            settings={"log": log},
            progress=False,
            store=tmp_path / "s.zarr",
        )
    xr.testing.assert_equal(serial.drop_attrs(), pooled.drop_attrs())
    assert sorted(logged(log)) == sorted((a, b) for a in AXES["a"] for b in AXES["b"])


def test_processes_executor_records_failures_from_workers():
    ds = fp.sweep(
        fails_on_three, AXES, executor="processes", n_workers=2, errors="record", progress=False
    )
    assert ds.attrs["n_failed"] == 2
    assert ds.error.sel(a=3.0, b=20).item() == "ZeroDivisionError: a = 3.0 is bad"


def _cores() -> int:
    return len(os.sched_getaffinity(0))


def test_process_workers_split_the_cores():
    """Two workers on n cores run each point on n // 2 Numba threads, one worker on all."""
    two = fp.sweep(threads, AXES, executor="processes", n_workers=2, progress=False)
    one = fp.sweep(threads, AXES, executor="processes", n_workers=1, progress=False)
    assert set(two.threads.values.ravel()) == {max(1, _cores() // 2)}
    assert set(one.threads.values.ravel()) == {_cores()}


def test_a_numba_thread_count_in_the_environment_wins(monkeypatch):
    monkeypatch.setenv("NUMBA_NUM_THREADS", "1")  # inherited by the spawned workers
    ds = fp.sweep(threads, AXES, executor="processes", n_workers=1, progress=False)
    assert set(ds.threads.values.ravel()) == {1.0}


@contextlib.contextmanager
def _two_workers(distributed):
    """A LocalCluster of two single-threaded worker processes on loopback, and its client."""
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                 host="127.0.0.1", dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield cluster, client


@pytest.mark.slow  # a LocalCluster starts two worker processes: ~5-8 s
def test_dask_workers_split_the_cores_of_their_host():
    distributed = pytest.importorskip("distributed")
    with _two_workers(distributed) as (_, client):
        ds = fp.sweep(threads, AXES, executor=client, progress=False)
    assert set(ds.threads.values.ravel()) == {max(1, _cores() // 2)}


@pytest.mark.slow  # a LocalCluster starts two worker processes: ~5-8 s
def test_dask_local_cluster_gives_the_serial_dataset(tmp_path):
    distributed = pytest.importorskip("distributed")
    axes = {"learning_rate": [1e-4, 1e-3, 5e-3], "temperature": [0.5, 2.0]}
    serial = fp.sweep(fp.diagrams.gaussian_mean, axes, executor="serial", progress=False)
    with _two_workers(distributed) as (cluster, client):
        remote = fp.sweep(
            fp.diagrams.gaussian_mean,
            axes,
            executor=client,
            store=tmp_path / "s.zarr",
            progress=False,
        )
        workers = client.run(os.getpid)
        by_address = fp.sweep(
            fp.diagrams.gaussian_mean, axes, executor=cluster.scheduler_address, progress=False
        )
    assert len(set(workers.values())) == 2
    xr.testing.assert_identical(serial.drop_attrs(), remote.drop_attrs())
    xr.testing.assert_identical(serial.drop_attrs(), by_address.drop_attrs())
    stored = xr.open_zarr(tmp_path / "s.zarr").load()
    np.testing.assert_array_equal(stored.sgld_kl.values, serial.sgld_kl.values)


KILLED_SWEEP = """
import sys, time
import numpy as np
import fpsolve as fp
sys.path.insert(0, {tests!r})
from test_sweep import product

def slow_product(a: float, b: float, log: str) -> dict:
    time.sleep(0.05)
    return product(a, b, log)

fp.sweep(slow_product, {{"a": [float(v) for v in range(10)], "b": [1, 2, 3]}}, store={store!r},
         executor="serial", settings={{"log": {log!r}}}, progress=False)
"""


@pytest.mark.slow  # two interpreters importing fpsolve: ~6 s
def test_a_sweep_killed_mid_way_resumes_with_every_point_once(tmp_path):
    store, log = str(tmp_path / "s.zarr"), str(tmp_path / "log")
    script = tmp_path / "sweep_script.py"
    script.write_text(
        textwrap.dedent(KILLED_SWEEP.format(tests=os.path.dirname(__file__), store=store, log=log))
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + KILL_TIMEOUT
    while len(logged(log)) < KILL_AFTER:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the sweep did not get going"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    before = xr.open_zarr(store).load()
    ia, ib = np.nonzero(before.status.values == 1)
    finished = {
        (float(before.a.values[i]), int(before.b.values[j])) for i, j in zip(ia, ib, strict=True)
    }
    assert KILL_AFTER - 1 <= len(finished) < 30  # killed mid-way, at most one point in flight
    n_before = len(logged(log))

    # resume in a subprocess too (the function lives in that script's __main__)
    rerun = subprocess.run([sys.executable, str(script)], capture_output=True, timeout=KILL_TIMEOUT)
    assert rerun.returncode == 0, rerun.stderr.decode()
    recomputed = logged(log)[n_before:]
    assert not finished & {(a, int(b)) for a, b in recomputed}  # nothing finished was recomputed
    assert len(recomputed) == len(set(recomputed)) == 30 - len(finished)
    after = xr.open_zarr(store).load()
    assert (after.status.values == 1).all()
    a, b = np.meshgrid(after.a.values, after.b.values, indexing="ij")
    np.testing.assert_array_equal(after.ab.values, a * b)
    np.testing.assert_array_equal(after.pair.values, np.stack([a, b], axis=-1))


# -- one name for the module and its function --------------------------------------------------
IMPORT_ORDERS = {
    "package first": "import fpsolve as fp",
    "submodule first": "import fpsolve.sweep\nimport fpsolve as fp",
    "from-import of the function": "from fpsolve.sweep import sweep as f\nimport fpsolve as fp\nassert f is fp.sweep.sweep",
    "SweepError first": "import fpsolve as fp\nfp.SweepError",
}


@pytest.mark.parametrize("first", list(IMPORT_ORDERS), ids=list(IMPORT_ORDERS))
def test_fp_sweep_is_the_module_and_calls_the_function_in_any_import_order(first):
    code = IMPORT_ORDERS[first] + textwrap.dedent("""
        import inspect, types
        import fpsolve.sweep as module
        assert fp.sweep is module and isinstance(fp.sweep, types.ModuleType)
        assert fp.sweep.load_function("gaussian_mean") is fp.diagrams.gaussian_mean
        assert fp.sweep.SweepError is fp.SweepError
        assert list(inspect.signature(fp.sweep).parameters)[:2] == ["func", "axes"]
        ds = fp.sweep(fp.diagrams.gaussian_mean, {"learning_rate": [1e-3]}, executor="serial",
                      progress=False)
        assert int(ds.attrs["n_done"]) == 1
        print("ok")
        """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"


def test_calling_the_module_is_calling_the_function():
    axes = {"a": [1.0, 2.0], "b": [3.0]}
    via_module = fp.sweep(product, axes, executor="serial", progress=False)
    via_function = fp.sweep.sweep(product, axes, executor="serial", progress=False)
    xr.testing.assert_identical(via_module, via_function)
