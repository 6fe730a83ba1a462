"""Parameter sweeps: one function over a grid of parameter values, resumable, local or on Dask.

``fpsolve.sweep`` is this module and, called, its function :func:`sweep`: ``fp.sweep(func,
axes, ...)`` runs a sweep and ``fp.sweep.load_function``, ``fp.sweep.run_config``,
``fp.sweep.SweepError`` are its other public names, whichever was imported first.

:func:`sweep` calls ``func(**point, **settings)`` at every point of the outer product of the
``axes`` and gathers the returned dicts into an ``xarray.Dataset``.  With a ``store`` (a
zarr directory) every finished point is written to its own region of arrays laid out once,
then marked done; a rerun of the same sweep skips the finished points, so a sweep killed at
any moment loses no finished point.  The layout is in ``docs/sweep.md``.

Executors: ``"serial"``; ``"processes"`` (local worker processes, the default); any
``concurrent.futures.Executor``; a ``dask.distributed.Client`` or a scheduler
address.  Points are submitted as futures and consumed as they finish.  Only the calling
process writes the store.

xarray, zarr and (for Dask) distributed come with ``pip install "fpsolve[sweep]"``; they are
imported when a sweep runs.
"""

from __future__ import annotations

import concurrent.futures as cf
import difflib
import inspect
import itertools
import json
import math
import numbers
import os
import pickle
import sys
import time
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._version import __version__
from .errors import FPSolveError

if TYPE_CHECKING:  # pragma: no cover
    import xarray

ERRORS = ("raise", "record")
PENDING, DONE, FAILED = 0, 1, 2  # values of the store's ``status`` array
MESSAGE_CHARS = 400  # an error message is kept up to this many characters (fixed-width strings)
IN_FLIGHT_PER_WORKER = 4  # points submitted ahead per local worker (keeps every worker busy)
MAX_LISTED_FAILURES = 20  # failed points printed in the end summary; the dataset has them all
RESERVED = ("status", "error")  # names the sweep uses itself
STORE_FORMAT = "fpsolve-sweep/1"  # layout version written to the store's attributes
EXTRA_HINT = 'install it with: pip install "fpsolve[sweep]"'


class SweepError(FPSolveError, ValueError):
    """A sweep is misconfigured (axes, settings, function, outputs) or its store belongs to another sweep."""


def _require(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"fpsolve.sweep needs {module!r}, which is part of the 'sweep' extra; {EXTRA_HINT}"
        ) from exc


# -- the sweep specification ----------------------------------------------------------------


def _function_key(func: Callable) -> str:
    module = getattr(func, "__module__", None) or "?"
    name = (
        getattr(func, "__qualname__", None)
        or getattr(func, "__name__", None)
        or type(func).__name__
    )
    return f"{module}:{name}"


def _scalar(value: Any, where: str) -> int | float | str:
    """A coordinate value as a plain Python scalar (what ``func`` receives)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, str)):
        raise SweepError(
            f"{where} must be a number or a string; got {value!r} ({type(value).__name__})"
        )
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if not math.isfinite(value):
            raise SweepError(f"{where} must be finite; got {value!r}")
    return value


def _numeric_kind(annotation: Any) -> type | None:
    """``int`` or ``float`` when an annotation asks for a number (``float``, ``int | None``, ...)."""
    if annotation in (int, float):
        return annotation
    args = typing.get_args(annotation)
    kinds = {a for a in args if a is not type(None)}
    if kinds and kinds <= {int, float}:
        return float if float in kinds else int
    return None


def _check_axes(func: Callable, axes: Any, settings: Mapping[str, Any]) -> dict[str, list]:
    """The axes as ``{name: values}``, checked against each other, the settings and ``func``."""
    pairs = _axis_pairs(axes)
    names = [n for n, _ in pairs]
    _check_axis_names(names, settings)
    hints = _check_signature(func, names, settings)
    return {n: _axis_values(func, n, values, hints.get(n)) for n, values in pairs}


def _axis_pairs(axes: Any) -> list[tuple]:
    """``(name, values)`` pairs from a mapping or a list of pairs, in order."""
    if isinstance(axes, Mapping):
        pairs = list(axes.items())
    elif (
        isinstance(axes, Sequence)
        and not isinstance(axes, str)
        and all(isinstance(p, Sequence) and not isinstance(p, str) and len(p) == 2 for p in axes)
    ):
        pairs = [tuple(p) for p in axes]
    else:
        raise SweepError(
            f"axes must map parameter names to lists of values (a dict, or a list of "
            f"(name, values) pairs); got {type(axes).__name__}"
        )
    if not pairs:
        raise SweepError("axes must name at least one parameter; got an empty mapping")
    return pairs


def _check_axis_names(names: list, settings: Mapping[str, Any]) -> None:
    """Identifiers, distinct, not reserved, not also settings."""
    for n in names:
        if not isinstance(n, str) or not n.isidentifier():
            raise SweepError(
                f"axes names must be Python identifiers (func's keyword arguments); got {n!r}"
            )
    seen = set()
    for n in names:
        if n in seen:
            raise SweepError(f"axes must not repeat a name; got {n!r} twice in {names}")
        seen.add(n)
    for n in names:
        if n in RESERVED:
            raise SweepError(
                f"axes names must not be one of {RESERVED} (used by the sweep); got {n!r}"
            )
        if n in settings:
            raise SweepError(f"{n!r} is both an axis and a setting; give it in one place only")


def _check_signature(func: Callable, names: list, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Every axis and setting a keyword of ``func``, every required keyword given; ``func``'s type hints."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return {}
    params = sig.parameters
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    accepted = [
        k
        for k, p in params.items()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]
    for n in [*names, *settings]:
        if n not in accepted and not var_kw:
            close = difflib.get_close_matches(n, accepted, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise SweepError(
                f"{_function_key(func)} has no keyword argument {n!r} (axes or settings); "
                f"it accepts {accepted}{hint}"
            )
    missing = [
        k
        for k in accepted
        if params[k].default is inspect.Parameter.empty and k not in names and k not in settings
    ]
    if missing:
        raise SweepError(f"{_function_key(func)} needs {missing}: give each as an axis or a setting")
    try:
        return typing.get_type_hints(func)
    except Exception:  # unresolvable annotations: no type checks
        return {}


def _axis_values(func: Callable, n: str, values: Any, hint: Any) -> list:
    """The values of axis ``n``: a flat, non-empty list of distinct scalars of one kind,
    numbers where ``func`` annotates ``n`` as a number."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray, range)):
        raise SweepError(f"axes[{n!r}] must be a list of values; got {values!r}")
    arr = np.asarray(values, dtype=object)
    if arr.ndim != 1:
        raise SweepError(f"axes[{n!r}] must be a flat list of values; got shape {arr.shape}")
    if arr.size == 0:
        raise SweepError(f"axes[{n!r}] must hold at least one value; got an empty list")
    vals = [_scalar(v, f"axes[{n!r}][{i}]") for i, v in enumerate(arr)]
    if len({isinstance(v, str) for v in vals}) > 1:
        raise SweepError(f"axes[{n!r}] mixes numbers and strings; got {vals}")
    kind = _numeric_kind(hint)
    if kind is not None:
        bad = [v for v in vals if isinstance(v, str) or (kind is int and not isinstance(v, int))]
        if bad:
            what = "integers" if kind is int else "numbers"
            raise SweepError(
                f"axes[{n!r}] must hold {what} ({_function_key(func)} annotates {n} as "
                f"{kind.__name__}); got {bad[0]!r}"
            )
    if len(set(vals)) != len(vals):
        dup = next(v for v in vals if vals.count(v) > 1)
        raise SweepError(f"axes[{n!r}] must not repeat a value; got {dup!r} more than once")
    return vals


def _check_settings(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    if settings is None:
        return {}
    if not isinstance(settings, Mapping):
        raise SweepError(
            f"settings must be a dict of keyword arguments; got {type(settings).__name__}"
        )
    try:
        text = json.dumps(dict(settings), sort_keys=True)
    except TypeError as exc:
        raise SweepError(
            f"settings must be JSON-serialisable (numbers, strings, lists, dicts), so that a "
            f"store can record them; {exc}"
        ) from None
    return json.loads(text)


# -- evaluating one point (runs in the workers) ------------------------------------------------


def _outputs(result: Any) -> dict[str, np.ndarray]:
    if not isinstance(result, Mapping) or not result:
        raise TypeError(
            f"a sweep function must return a non-empty dict of numbers or small arrays; "
            f"got {type(result).__name__}"
        )
    out = {}
    for k, v in result.items():
        if not isinstance(k, str) or not k.isidentifier():
            raise TypeError(f"returned names must be identifiers; got {k!r}")
        arr = np.asarray(v)
        if arr.dtype.kind not in "biuf":
            raise TypeError(
                f"returned value {k!r} must be real numbers; got dtype {arr.dtype} ({v!r:.60})"
            )
        out[k] = arr.astype(float)
    return out


# Numba threads for each point in this process: set in a worker by the sweep that runs on it
# (its share of its machine's cores), None in the calling process (serial sweeps use them all)
_POINT_THREADS: int | None = None


def _share_cores(threads: int) -> None:
    """In a worker process: run each point on ``threads`` Numba threads, the worker's share of
    the cores, so that the workers do not oversubscribe them (each solve's parallel kernels
    would otherwise start one thread per core in every worker).  A ``NUMBA_NUM_THREADS`` set
    in the worker's environment is the user's choice and wins."""
    global _POINT_THREADS
    if "NUMBA_NUM_THREADS" not in os.environ:
        _POINT_THREADS = max(1, int(threads))


def _share_dask_cores(threads: dict[str, int], dask_worker=None) -> None:
    """:func:`_share_cores` on a Dask worker, its share looked up by its address."""
    _share_cores(threads.get(dask_worker.address, 1))


def _dask_shares(client) -> dict[str, int]:
    """Each Dask worker's share of its host's cores: the host's cores over the threads of all
    the workers on that host (at least 1: :func:`_share_cores` clamps it)."""
    workers = client.scheduler_info()["workers"]
    cpus = client.run(_local_cpus)
    on_host: dict[str, int] = {}
    for info in workers.values():
        on_host[info["host"]] = on_host.get(info["host"], 0) + info["nthreads"]
    return {addr: cpus.get(addr, 1) // on_host[info["host"]] for addr, info in workers.items()}


def _evaluate(func: Callable, point: dict[str, Any]) -> tuple:
    """``("ok", outputs)`` or ``("error", message, exception or None)``; never raises."""
    if _POINT_THREADS is not None:  # numba.set_num_threads is per calling thread: set it here
        import numba

        numba.set_num_threads(min(_POINT_THREADS, numba.config.NUMBA_NUM_THREADS))
    try:
        return ("ok", _outputs(func(**point)))
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        try:
            pickle.dumps(exc)
        except Exception:
            exc = None
        return ("error", message, exc)


# -- executors: generators yielding lists of (index, outcome) as points finish -----------------
# (a list holds every point that had finished when the runner looked: the store writes them in
# one round trip, which is most of an empty function's cost per point)


def _run_serial(func, jobs) -> Iterator[list]:
    for idx, point in jobs:
        yield [(idx, _evaluate(func, point))]


def _run_pool(pool: cf.Executor, n_ahead: int, func, jobs) -> Iterator[list]:
    jobs = iter(jobs)
    pending: dict[cf.Future, tuple] = {}
    try:
        for idx, point in itertools.islice(jobs, n_ahead):
            pending[pool.submit(_evaluate, func, point)] = idx
        while pending:
            finished, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            batch = [(pending.pop(fut), fut) for fut in finished]
            for nidx, npoint in itertools.islice(jobs, len(batch)):
                pending[pool.submit(_evaluate, func, npoint)] = nidx
            yield [(idx, fut.result()) for idx, fut in batch]
    finally:
        for fut in pending:
            fut.cancel()


def _run_dask(client, func, jobs) -> Iterator[list]:
    distributed = _require("distributed")
    client.run(_share_dask_cores, _dask_shares(client))
    futures = {}
    for idx, point in jobs:
        fut = client.submit(_evaluate, func, point, pure=False)
        futures[fut.key] = (fut, idx)
    try:
        for done in distributed.as_completed([f for f, _ in futures.values()]).batches():
            yield [(futures.pop(fut.key)[1], fut.result()) for fut in done]
    finally:
        if futures:
            client.cancel([f for f, _ in futures.values()])


def _local_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _runner(executor: Any, n_workers: int | None, func: Callable):
    """``(run(jobs) -> iterator, close(), description)`` for an executor specification."""
    if n_workers is not None and (
        isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1
    ):
        raise SweepError(f"n_workers must be a positive integer; got {n_workers!r}")
    if executor == "serial":
        return (lambda jobs: _run_serial(func, jobs)), (lambda: None), "serial"
    if executor is None or executor == "processes":
        import multiprocessing

        _check_picklable(func, "processes")
        n = n_workers or _local_cpus()
        pool = cf.ProcessPoolExecutor(
            n,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_share_cores,
            initargs=(_local_cpus() // n,),
        )
        return (
            (lambda jobs: _run_pool(pool, IN_FLIGHT_PER_WORKER * n, func, jobs)),
            (lambda: pool.shutdown(wait=True, cancel_futures=True)),
            f"{n} local processes",
        )
    if isinstance(executor, cf.Executor):
        if isinstance(executor, cf.ProcessPoolExecutor):
            _check_picklable(func, type(executor).__name__)
        n = getattr(executor, "_max_workers", None) or _local_cpus()
        return (
            (lambda jobs: _run_pool(executor, IN_FLIGHT_PER_WORKER * n, func, jobs)),
            (lambda: None),
            f"{type(executor).__name__}({n})",
        )
    if isinstance(executor, str):
        if ":" not in executor:  # not an address: a misspelt name
            close = difflib.get_close_matches(executor, ["serial", "processes"], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise SweepError(
                f"executor must be 'serial', 'processes' or a Dask scheduler address "
                f"('tcp://host:port'); got {executor!r}{hint}"
            )
        distributed = _require("distributed")
        # (same shape as _Results._open_store: each boundary words its own library's failure)
        try:
            client = distributed.Client(executor, timeout="30s")
        except Exception as exc:
            raise SweepError(
                f"executor {executor!r} is neither 'serial' nor 'processes', and no Dask "
                f"scheduler answered at that address ({type(exc).__name__}: {exc})"
            ) from None
        return (
            (lambda jobs: _run_dask(client, func, jobs)),
            client.close,
            f"Dask scheduler {executor}",
        )
    if type(executor).__name__ == "Client" and hasattr(executor, "submit"):
        return (
            (lambda jobs: _run_dask(executor, func, jobs)),
            (lambda: None),
            f"Dask client {getattr(executor.scheduler, 'address', '?')}",
        )
    raise SweepError(
        f"executor must be 'serial', 'processes', a concurrent.futures.Executor, a "
        f"dask.distributed.Client or a scheduler address; got {executor!r}"
    )


def _check_picklable(func: Callable, where: str) -> None:
    try:
        pickle.dumps(func)
    except Exception as exc:
        raise SweepError(
            f"func must be picklable to run on {where} workers (a function defined at module "
            f"level, not a lambda or a local function); {type(exc).__name__}: {exc}. "
            f"Use executor='serial' or a Dask client (which uses cloudpickle)"
        ) from None


# -- results, in memory and in the store --------------------------------------------------------


class _Results:
    """The sweep's arrays in memory, mirrored into a zarr store when one is given."""

    def __init__(self, axes: dict[str, list], identity: dict[str, Any], store: Any) -> None:
        self.axes = axes
        self.shape = tuple(len(v) for v in axes.values())
        self.identity = identity
        self.status = np.zeros(self.shape, dtype=np.int8)
        self.error = np.full(self.shape, "", dtype=f"<U{MESSAGE_CHARS}")
        self.values: dict[str, np.ndarray] = {}
        self._arrays: dict[str, Any] = {}
        self.group = None
        self.path = None
        if store is not None:
            self.path = os.fspath(store)
            self._open_store()

    # the store ------------------------------------------------------------------------------

    def _open_store(self) -> None:
        zarr = _require("zarr")
        _require("xarray")
        path = self.path
        if os.path.isfile(path) or (os.path.isdir(path) and os.listdir(path)):
            try:
                group = zarr.open_group(path, mode="r+")
            except Exception as exc:
                raise SweepError(
                    f"store {path!r} exists but is not a zarr store ({type(exc).__name__}: "
                    f"{exc}); choose a new path"
                ) from None
            self._check_identity(dict(group.attrs))
            self.group = group
            self.status[...] = group["status"][...]
            self.error[...] = group["error"][...]
            for name in json.loads(group.attrs.get("sweep_variables", "null") or "{}"):
                self.values[name] = np.asarray(group[name][...], dtype=float)
            if not self.values and "sweep_variables" not in group.attrs:
                self.status[self.status == DONE] = (
                    PENDING  # variables never laid out: nothing finished
                )
            return
        group = zarr.open_group(path, mode="w", zarr_format=2)
        for name, vals in self.axes.items():
            values = np.asarray(vals)
            if values.dtype.kind == "U":
                values = values.astype(f"<U{max(len(v) for v in vals)}")
            arr = group.create_array(
                name, shape=values.shape, dtype=values.dtype, chunks=values.shape, fill_value=None
            )
            arr[...] = values
            arr.attrs["_ARRAY_DIMENSIONS"] = [name]
        dims = list(self.axes)
        chunks = (1,) * len(self.shape)
        status = group.create_array(
            "status", shape=self.shape, dtype="i1", chunks=chunks, fill_value=None, compressors=None
        )
        status[...] = PENDING  # every chunk written (no fill value for readers to mask)
        status.attrs.update(
            {
                "_ARRAY_DIMENSIONS": dims,
                "flag_values": [PENDING, DONE, FAILED],
                "flag_meanings": "pending done failed",
            }
        )
        error = group.create_array(
            "error", shape=self.shape, dtype=f"<U{MESSAGE_CHARS}", chunks=chunks, fill_value=None
        )  # compressed: mostly padding
        error.attrs["_ARRAY_DIMENSIONS"] = dims
        group.attrs.update({k: v for k, v in self.identity.items() if k.startswith("sweep_")})
        group.attrs.update({"sweep_format": STORE_FORMAT, "fpsolve_version": __version__})
        zarr.consolidate_metadata(path)
        self.group = group

    def _check_identity(self, attrs: dict[str, Any]) -> None:
        if attrs.get("sweep_format") != STORE_FORMAT:
            raise SweepError(
                f"store {self.path!r} was not written by fpsolve.sweep (no sweep_format "
                f"{STORE_FORMAT!r} attribute); choose a new path"
            )
        differ = []
        for key, label in (
            ("sweep_function", "function"),
            ("sweep_axes", "axes"),
            ("sweep_settings", "settings"),
        ):
            theirs, ours = attrs.get(key), self.identity[key]
            if theirs != ours:
                differ.append(f"{label}: store has {theirs}, this sweep {ours}")
        if differ:
            raise SweepError(
                f"store {self.path!r} belongs to a different sweep; "
                + "; ".join(differ)
                + ". Use another store path, or the original sweep's settings to resume it"
            )

    def _lay_out(self, outputs: dict[str, np.ndarray]) -> None:
        for name in outputs:
            if name in RESERVED or name in self.axes:
                raise SweepError(
                    f"{self.identity['sweep_function']} returned {name!r}, which is an axis or "
                    f"a reserved name {RESERVED}; rename that output"
                )
        self.values = {k: np.full(self.shape + v.shape, np.nan) for k, v in outputs.items()}
        if self.group is None:
            return
        zarr = _require("zarr")
        dims = list(self.axes)
        for name, v in outputs.items():
            arr = self.group.create_array(
                name,
                shape=self.shape + v.shape,
                dtype="f8",
                chunks=(1,) * len(self.shape) + v.shape,
                fill_value=np.nan,
                compressors=None,
                overwrite=True,
            )
            arr.attrs["_ARRAY_DIMENSIONS"] = dims + [f"{name}_dim_{k}" for k in range(v.ndim)]
            arr.attrs.update(self.identity["variable_attrs"].get(name, {}))
        layout = {k: list(v.shape) for k, v in outputs.items()}
        self.group.attrs["sweep_variables"] = json.dumps(layout)
        zarr.consolidate_metadata(self.path)

    # recording ------------------------------------------------------------------------------

    def record(self, batch: list[tuple[tuple[int, ...], tuple]]) -> None:
        """Store finished points ``[(index, outcome), ...]``: in memory, then in the store."""
        self._write([self._accept(idx, outcome) for idx, outcome in batch])

    def _accept(self, idx: tuple[int, ...], outcome: tuple) -> tuple:
        """One point's outcome checked and kept in memory; ``(idx, values, status, message)``."""
        if outcome[0] == "ok":
            outputs = outcome[1]
            if not self.values:
                self._lay_out(outputs)
            if set(outputs) != set(self.values) or any(
                outputs[k].shape != self.values[k].shape[len(self.shape) :] for k in outputs
            ):
                expected = {k: v.shape[len(self.shape) :] for k, v in self.values.items()}
                got = {k: v.shape for k, v in outputs.items()}
                outcome = (
                    "error",
                    f"SweepError: returned {got}; every point must return the same "
                    f"names and shapes, here {expected}",
                    None,
                )
            else:
                for k, v in outputs.items():
                    self.values[k][idx] = v
                return idx, outputs, DONE, ""
        message = outcome[1]
        if len(message) > MESSAGE_CHARS:
            message = message[: MESSAGE_CHARS - 1] + "…"
        for k in self.values:
            self.values[k][idx] = np.nan
        return idx, {k: np.nan for k in self.values}, FAILED, message

    def _array(self, name: str):
        if name not in self._arrays:
            self._arrays[name] = self.group[name]
        return self._arrays[name]

    def _write(self, points: list[tuple]) -> None:
        """Write the points' values (and messages) concurrently, then, last, their statuses.

        A point marked done in the store is complete: each chunk is its own file, written to a
        temporary name and renamed into place by zarr, and the status chunks follow the others.
        All the points of one batch share the two round trips to zarr's event loop.
        """
        first, last = [], []
        for idx, values, status, message in points:
            skip_error = message == "" and self.error[idx] == ""
            self.error[idx] = message
            self.status[idx] = status
            if self.group is None:
                continue
            first += [(self._array(k), idx, v) for k, v in values.items()]
            if not skip_error:  # messages are written for failures, and to clear a retried one
                first.append((self._array("error"), idx, message))
            last.append((self._array("status"), idx, status))
        if not last:
            return
        try:
            from zarr.core.sync import sync

            async def put():
                import asyncio

                await asyncio.gather(*(a._async_array.setitem(i, v) for a, i, v in first))
                await asyncio.gather(*(a._async_array.setitem(i, v) for a, i, v in last))

            sync(put())
        except (ImportError, AttributeError):  # pragma: no cover - another zarr: one at a time
            for a, i, v in first + last:
                a[i] = v

    def dataset(self):
        xr = _require("xarray")
        dims = list(self.axes)
        coords = {k: np.asarray(v) for k, v in self.axes.items()}
        data = {}
        for k, v in self.values.items():
            vdims = dims + [f"{k}_dim_{j}" for j in range(v.ndim - len(dims))]
            data[k] = (vdims, v.copy(), dict(self.identity["variable_attrs"].get(k, {})))
        data["error"] = (dims, self.error.astype(str).astype(object))
        data["status"] = (
            dims,
            self.status.copy(),
            {"flag_values": [PENDING, DONE, FAILED], "flag_meanings": "pending done failed"},
        )
        attrs = {
            key: self.identity[key] for key in ("sweep_function", "sweep_axes", "sweep_settings")
        }
        attrs.update(
            fpsolve_version=__version__,
            n_points=int(self.status.size),
            n_done=int((self.status == DONE).sum()),
            n_failed=int((self.status == FAILED).sum()),
        )
        if self.path is not None:
            attrs["store"] = self.path
        return xr.Dataset(data, coords=coords, attrs=attrs)


# -- the public function ------------------------------------------------------------------------


def _progress_bar(total: int, progress: bool | None, label: str):
    from tqdm.auto import tqdm

    show = sys.stderr.isatty() if progress is None else bool(progress)
    return tqdm(total=total, disable=not show, desc=label, unit="pt", file=sys.stderr)


def _check_store_axes(results: "_Results", axes: dict) -> None:
    """The store's coordinate values must be this sweep's."""
    if results.group is None:
        return
    for name, vals in axes.items():
        theirs = results.group[name][...].tolist() if name in results.group else None
        if theirs != vals:
            raise SweepError(
                f"store {results.path!r} belongs to a different sweep; axes[{name!r}]: "
                f"store has {theirs}, this sweep {vals}"
            )


def _compute(func: Callable, axes: dict, settings: dict, todo: list, results: "_Results", *, executor,
             n_workers, errors: str, progress: bool | None, desc: str) -> tuple[int, str]:
    """Run ``func`` at the points ``todo`` and record each outcome (or raise, with
    ``errors="raise"``); returns the number computed and where (the runner's label).
    ``desc`` names the progress bar."""
    names = list(axes)

    def jobs():
        for idx in todo:
            yield idx, {**{n: axes[n][i] for n, i in zip(names, idx, strict=True)}, **settings}

    n_new, label = 0, ""
    if todo:
        run, close, label = _runner(executor, n_workers, func)
        bar = _progress_bar(len(todo), progress, desc)
        stream = run(jobs())
        try:
            for batch in stream:
                failed = [(idx, out) for idx, out in batch if out[0] == "error"]
                if failed and errors == "raise":
                    results.record([(idx, out) for idx, out in batch if out[0] == "ok"])
                    idx, outcome = failed[0]
                    point = {n: axes[n][i] for n, i in zip(names, idx, strict=True)}
                    exc = outcome[2] or SweepError(outcome[1])
                    exc.add_note(
                        f"fpsolve.sweep: raised at point {point} (errors='raise'; finished points "
                        f"are kept{' in ' + repr(results.path) if results.path else ''})"
                    )
                    raise exc
                results.record(batch)
                n_new += len(batch)
                bar.update(len(batch))
        finally:
            stream.close()
            bar.close()
            close()
    return n_new, label


def _report(ds, results: "_Results", axes: dict, function: str, n_new: int, n_stored: int, label: str,
            start: float) -> None:
    """The summary line and the first failures, on standard error."""
    names = list(axes)
    n_failed = int(ds.attrs["n_failed"])
    print(
        f"fpsolve.sweep {function}: {ds.attrs['n_done']} of {ds.attrs['n_points']} "
        f"points done ({n_new} computed now{' on ' + label if n_new else ''}, {n_stored} from the store), {n_failed} failed, "
        f"{time.perf_counter() - start:.1f} s"
        + (f"; store {results.path}" if results.path else ""),
        file=sys.stderr,
    )
    all_failed = [
        ({n: axes[n][i] for n, i in zip(names, idx, strict=True)}, results.error[idx])
        for idx in zip(*np.nonzero(results.status == FAILED), strict=True)
    ]
    for point, message in all_failed[:MAX_LISTED_FAILURES]:
        print(f"  failed {point}: {message}", file=sys.stderr)
    if len(all_failed) > MAX_LISTED_FAILURES:
        print(
            f"  ... and {len(all_failed) - MAX_LISTED_FAILURES} more (see the 'error' variable)",
            file=sys.stderr,
        )


def sweep(
    func: Callable[..., Mapping[str, Any]],
    axes: Mapping[str, Sequence] | Sequence[tuple[str, Sequence]],
    store: str | os.PathLike | None = None,
    executor: Any = None,
    errors: str = "raise",
    progress: bool | None = None,
    *,
    settings: Mapping[str, Any] | None = None,
    n_workers: int | None = None,
    retry_failed: bool = False,
) -> xarray.Dataset:
    """Evaluate ``func`` over the outer product of ``axes``; resumable through ``store``.

    Parameters
    ----------
    func : callable
        ``func(**point, **settings)`` returns a dict of real scalars or small arrays whose
        names and shapes are the same at every point.  It may carry a ``variables`` attribute,
        ``{name: {"long_name": ..., "units": ...}}``, copied to the variables' attributes (the
        figures' colour-bar labels).
    axes : dict of name -> list of values
        Keyword arguments of ``func`` swept over (numbers or strings); the first name is the
        first dimension.  A list of ``(name, values)`` pairs is accepted too.
    store : path, optional
        A zarr directory holding every finished point.  A new path is laid out on the first
        result; an existing store of the same sweep (function, axes, settings) is resumed and
        its finished points are not recomputed; a store of another sweep is refused.
    executor : None, "serial", "processes", Executor, dask.distributed.Client or str
        ``None`` and ``"processes"``: ``n_workers`` local processes (default: all cores).  A
        string with a colon is a Dask scheduler address (``"tcp://host:8786"``).  The local
        processes and the Dask workers split their machine's cores: each point runs on
        ``cores // workers`` Numba threads there (Dask: over all the worker threads on a host),
        unless ``NUMBA_NUM_THREADS`` is set in the workers' environment; serial points and
        other executors use Numba's default (all cores).
    errors : {"raise", "record"}
        ``"raise"``: the first failing point raises its exception (finished points stay in the
        store).  ``"record"``: a failed point gets NaN values and its message in ``error``, and
        the sweep goes on.
    progress : bool, optional
        Progress bar with ETA; default: when stderr is a terminal.  ``False`` also silences the
        end summary (otherwise one line, and the failed points, on stderr).
    settings : dict, optional
        Fixed keyword arguments for every point (JSON-serialisable; part of the sweep's identity).
    n_workers : int, optional
        Workers of the ``"processes"`` executor.
    retry_failed : bool
        Recompute the points a store records as failed (default: keep them).

    Returns
    -------
    xarray.Dataset
        One coordinate per axis; one variable per returned name (extra dimensions
        ``{name}_dim_{k}``); ``error`` (message, ``""`` where the point succeeded) and ``status``
        (0 pending, 1 done, 2 failed); attributes ``sweep_function`` (``module:qualname``),
        ``sweep_axes``, ``sweep_settings`` (JSON), ``fpsolve_version``, ``n_points``,
        ``n_done``, ``n_failed`` (and ``store``).

    Raises
    ------
    SweepError
        For a bad ``errors``, ``progress``, ``func``, ``axes`` (names that are not keyword
        arguments of ``func``, empty or mixed-type values) or ``settings``, results whose
        names or shapes change between points, or a ``store`` of a different sweep.
    Exception
        With ``errors="raise"``, the first failing point's own exception.

    See Also
    --------
    fpsolve.plot.phase_diagram : A heatmap of one variable over two axes.

    Examples
    --------
    >>> import fpsolve as fp
    >>> ds = fp.sweep(fp.diagrams.gaussian_mean, {"learning_rate": [1e-3, 2e-3],
    ...               "temperature": [0.5, 1.0]}, executor="serial", progress=False)
    >>> ds.sgld_variance_error.shape, int(ds.attrs["n_done"])
    ((2, 2), 4)
    >>> round(float(ds.full_batch_variance_error.sel(learning_rate=1e-3, temperature=1.0)), 6)
    0.052637

    A failed point is recorded, not raised, with ``errors="record"`` (η H ≥ 2 here):

    >>> ds = fp.sweep(fp.diagrams.gaussian_mean, {"learning_rate": [1e-3, 0.05]},
    ...               executor="serial", errors="record", progress=False)
    >>> ds.status.values.tolist(), int(ds.attrs["n_failed"])
    ([1, 2], 1)
    """
    if errors not in ERRORS:
        raise SweepError(f"errors must be one of {ERRORS}; got {errors!r}")
    if progress is not None and not isinstance(progress, bool):
        raise SweepError(f"progress must be True, False or None; got {progress!r}")
    if not callable(func):
        raise SweepError(f"func must be callable; got {type(func).__name__}")
    settings = _check_settings(settings)
    axes = _check_axes(func, axes, settings)
    _require("xarray")
    identity = {
        "sweep_function": _function_key(func),
        "sweep_axes": json.dumps(list(axes)),
        "sweep_settings": json.dumps(settings, sort_keys=True),
        "variable_attrs": {k: dict(v) for k, v in (getattr(func, "variables", None) or {}).items()},
    }
    results = _Results(axes, identity, store)
    _check_store_axes(results, axes)
    redo = (PENDING, FAILED) if retry_failed else (PENDING,)
    todo = [idx for idx in np.ndindex(results.shape) if results.status[idx] in redo]
    n_stored = results.status.size - len(todo)

    start = time.perf_counter()
    n_new, label = _compute(func, axes, settings, todo, results, executor=executor, n_workers=n_workers,
                            errors=errors, progress=progress, desc=identity["sweep_function"].split(":")[-1])
    ds = results.dataset()
    if progress is not False:
        _report(ds, results, axes, identity["sweep_function"], n_new, n_stored, label, start)
    return ds


# -- sweeps described in TOML (``fpsolve sweep CONFIG.toml``) -----------------------------------

CONFIG_KEYS = (
    "function",
    "axes",
    "settings",
    "store",
    "out",
    "executor",
    "n_workers",
    "errors",
    "plot",
)
RANGE_KINDS = ("linspace", "geomspace")
PLOT_KEYS = ("variables", "x", "y")


def _config_axis(name: str, spec: Any) -> list:
    if isinstance(spec, Mapping):
        kinds = [k for k in spec if k in RANGE_KINDS]
        if len(spec) != 1 or not kinds:
            raise SweepError(
                f"axes.{name} must be a list or one of {{linspace = [start, stop, num]}}, "
                f"{{geomspace = [start, stop, num]}}; got {dict(spec)}"
            )
        args = spec[kinds[0]]
        if (
            not isinstance(args, list)
            or len(args) != 3
            or not isinstance(args[2], int)
            or isinstance(args[2], bool)
            or args[2] < 1
        ):
            raise SweepError(
                f"axes.{name}.{kinds[0]} must be [start, stop, num] with num a positive "
                f"integer; got {args!r}"
            )
        if kinds[0] == "geomspace" and not (args[0] > 0 and args[1] > 0):
            raise SweepError(f"axes.{name}.geomspace needs positive start and stop; got {args!r}")
        return [float(v) for v in getattr(np, kinds[0])(*args)]
    return spec


def load_function(name: str) -> Callable:
    """A built-in diagram (``fpsolve.diagrams.BUILTINS``) by name, or ``"module:function"``.

    Parameters
    ----------
    name : str
        A key of ``fpsolve.diagrams.BUILTINS`` or ``"package.module:function"`` (dotted
        attributes allowed after the colon).

    Returns
    -------
    callable

    Raises
    ------
    SweepError
        If the name is neither, cannot be imported, or is not callable.

    Examples
    --------
    >>> import fpsolve as fp
    >>> from fpsolve.sweep import load_function
    >>> load_function("gaussian_mean") is fp.diagrams.gaussian_mean
    True
    >>> load_function("fpsolve.diagrams:sgworld_variance").__name__
    'sgworld_variance'
    """
    from .diagrams import BUILTINS

    if name in BUILTINS:
        return BUILTINS[name]
    if ":" not in name:
        raise SweepError(
            f"function must be a built-in diagram ({', '.join(BUILTINS)}) or 'module:function'; "
            f"got {name!r}"
        )
    import importlib

    module, _, attr = name.partition(":")
    try:
        obj = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise SweepError(
            f"function {name!r} could not be loaded: {type(exc).__name__}: {exc}"
        ) from None
    if not callable(obj):
        raise SweepError(f"function {name!r} is not callable; got {type(obj).__name__}")
    return obj


def _read_config(path: str) -> dict:
    """The TOML config at ``path``, its keys checked."""
    import tomllib

    try:
        with open(path, "rb") as f:
            config = tomllib.load(f)
    except FileNotFoundError:
        raise SweepError(f"config file {path!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise SweepError(f"config file {path!r} is not valid TOML: {exc}") from None
    unknown = [k for k in config if k not in CONFIG_KEYS]
    if unknown:
        raise SweepError(
            f"config {path!r} has unknown keys {unknown}; valid keys are {list(CONFIG_KEYS)}"
        )
    if "function" not in config or not isinstance(config["function"], str):
        raise SweepError(
            f'config {path!r} must name the function: function = "gaussian_mean" or '
            f'"module:function"'
        )
    if not isinstance(config.get("axes"), dict):
        raise SweepError(f"config {path!r} needs an [axes] table of parameter values")
    return config


def _config_figures(ds, dims: list, plot: dict, out: str) -> list:
    """With two axes of more than one value: a phase diagram per variable (or those in
    ``plot["variables"]``) saved as ``out/<name>.png``; the paths."""
    figures = []
    if len(dims) >= 2 and all(ds.sizes[d] > 1 for d in dims[:2]):
        from . import plot as _plot

        names = plot.get("variables") or [
            v for v in ds.data_vars if v not in RESERVED and ds[v].ndim == len(dims)
        ]
        x, y = plot.get("x", dims[0]), plot.get("y", dims[1])
        others = {d: 0 for d in dims if d not in (x, y)}
        import matplotlib.pyplot as plt

        for name in names:
            sub = ds.isel(others) if others else ds
            fig = _plot.phase_diagram(sub, name, x=x, y=y)
            target = os.path.join(out, f"{name}.png")
            fig.savefig(target, dpi=120)
            plt.close(fig)
            figures.append(target)
    return figures


def run_config(path: str | os.PathLike, progress: bool | None = None) -> dict[str, Any]:
    """Run the sweep a TOML file describes; write the store and one figure per variable.

    Paths in the file are relative to the file's folder.  Keys: ``function`` (required),
    ``[axes]`` (lists, or ``{linspace = [a, b, n]}`` / ``{geomspace = [a, b, n]}``),
    ``[settings]``, ``store`` (default ``<out>/sweep.zarr``), ``out`` (default
    ``sweep-output``), ``executor``, ``n_workers``, ``errors`` (default ``"record"``), and
    ``[plot]`` with ``variables``, ``x``, ``y``.  See ``docs/sweep.md``.

    Parameters
    ----------
    path : str or path-like
        The TOML file.
    progress : bool, optional
        As for :func:`fpsolve.sweep`.

    Returns
    -------
    dict
        ``dataset``, ``store`` (path) and ``figures`` (list of paths).

    Raises
    ------
    SweepError
        For a missing or invalid file, unknown keys, a missing ``function`` or a bad axis
        specification.
    """
    path = os.fspath(path)
    config = _read_config(path)
    func = load_function(config["function"])
    base = os.path.dirname(os.path.abspath(path))
    out = os.path.join(base, config.get("out", "sweep-output"))
    store = (
        os.path.join(base, config["store"])
        if "store" in config
        else os.path.join(out, "sweep.zarr")
    )
    axes = {name: _config_axis(name, spec) for name, spec in config["axes"].items()}
    plot = config.get("plot", {})
    bad = [k for k in plot if k not in PLOT_KEYS]
    if bad:
        raise SweepError(f"config [plot] has unknown keys {bad}; valid keys are {list(PLOT_KEYS)}")
    os.makedirs(out, exist_ok=True)
    ds = sweep(
        func,
        axes,
        store=store,
        executor=config.get("executor"),
        errors=config.get("errors", "record"),
        progress=progress,
        settings=config.get("settings"),
        n_workers=config.get("n_workers"),
    )
    figures = _config_figures(ds, list(axes), plot, out)
    return {"dataset": ds, "store": store, "figures": figures}


class _SweepModule(types.ModuleType):
    """This module's type: calling the module calls :func:`sweep`.

    One name, ``fpsolve.sweep``, for the module and its main function: the import system binds
    ``fpsolve.sweep`` to the module as soon as anything imports it, so a function of the same
    name in the package namespace would be shadowed depending on the order of imports.
    ``__call__`` is :func:`sweep` itself, so ``inspect.signature(fp.sweep)``, ``help`` on the
    call and "go to definition" land on the function.
    """

    __call__ = staticmethod(sweep)

    @property
    def __signature__(self) -> inspect.Signature:
        return inspect.signature(sweep)  # (a bound ``__call__`` would lose ``func``)


sys.modules[__name__].__class__ = _SweepModule

__all__ = ["sweep", "SweepError", "run_config", "load_function"]
