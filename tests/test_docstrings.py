"""The docstrings of the public API: an audit of their numpydoc sections, and every example run.

1. Every public function and class reachable from ``fpsolve`` and its public modules has a numpydoc
   docstring (parsed by ``numpydoc.docscrape``) with a summary line, a Parameters section naming
   every argument it takes, Returns for functions, Attributes for the classes that hold results,
   Raises where its own code raises, and an Examples section on the main entry points; public
   methods and properties have at least a one-line docstring.
2. Every ``>>>`` example in those docstrings runs as a doctest, one test per object.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import time
import warnings

import pytest

import fpsolve as fp

numpydoc_docscrape = pytest.importorskip("numpydoc.docscrape")

MODULES = ["plot", "simulate", "landscape", "models", "datasets", "thermo", "diagrams", "solve",
           "sweep"]

# Classes whose instances hold results (or model a learning problem's state): they document
# their fields in an Attributes section.
RESULT_CLASSES = {
    "StationaryState", "Evolution", "Trajectory", "Basins", "SolveInfo", "SpectralGap",
    "GaussianState", "Comparison", "EntropyProduction", "IntegralFT", "DetailedFT", "Relaxation",
    "LinearChain", "StochasticArea", "Outputs", "LandscapeFields", "SchemeFields",
    # model classes
    "Model", "TanhNet", "TanhUnit", "LinearRegression", "LogisticRegression", "GaussianMean",
    "DeepLinearMode", "CustomModel", "SoftmaxRegression",
}

# The main entry points: each shows a runnable example.
NEED_EXAMPLES = {
    "fpsolve.stationary", "fpsolve.evolve", "fpsolve.spectral_gap",
    "fpsolve.mean_first_passage_time", "fpsolve.closed_form_1d", "fpsolve.linearized",
    "fpsolve.compare", "fpsolve.Grid", "fpsolve.FokkerPlanck", "fpsolve.SGD", "fpsolve.Landscape",
    "fpsolve.sweep.sweep", "fpsolve.plot.density", "fpsolve.plot.evolution", "fpsolve.simulate.langevin",
    "fpsolve.simulate.sgd", "fpsolve.thermo.entropy_production", "fpsolve.thermo.integral_ft",
    "fpsolve.diagrams.gaussian_mean", "fpsolve.diagrams.tanhnet_slice",
    "fpsolve.diagrams.sgworld_variance",
}

# Doctests that take more than about 5 s here (first-call compilation included).
SLOW_EXAMPLES = {
    # a user's jitted drift compiles into the stepping kernel: 20-30 s, in every process
    "fpsolve.simulate.Fields",
}


def _public_objects() -> dict[str, object]:
    """Qualified name -> object for every public function and class, each object once (under the
    first namespace that exports it: ``fpsolve`` first)."""
    spaces = {"fpsolve": fp}
    for name in MODULES:
        spaces[f"fpsolve.{name}"] = importlib.import_module(f"fpsolve.{name}")
    found: dict[str, object] = {}
    seen: set[int] = set()
    for space, module in spaces.items():
        names = getattr(module, "__all__", None) or [n for n in dir(module)
                                                     if not n.startswith("_")]
        for name in names:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if not getattr(obj, "__module__", "").startswith("fpsolve") or id(obj) in seen:
                continue
            seen.add(id(obj))
            found[f"{space}.{name}"] = obj
    return found


PUBLIC = _public_objects()


def _is_exception(obj) -> bool:
    return inspect.isclass(obj) and issubclass(obj, BaseException)


def _parsed(name: str, obj):
    doc = inspect.getdoc(obj)
    assert doc, f"{name} has no docstring"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an unknown or malformed section is a failure
        return numpydoc_docscrape.NumpyDocString(doc)


def _documented(section) -> set[str]:
    names = set()
    for param in section:
        for part in param.name.split(","):
            names.add(part.strip().lstrip("*"))
    return names


def _arguments(obj) -> list[str]:
    """The arguments a caller passes: the signature of a function, or of a class's constructor."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return []
    return [p.name for p in sig.parameters.values() if p.name not in ("self", "cls")]


def _members(cls) -> list[tuple[str, object]]:
    """Public methods and properties a class defines itself or inherits from an fpsolve class."""
    out = []
    for klass in cls.__mro__:
        if not klass.__module__.startswith("fpsolve"):
            continue
        for name, member in vars(klass).items():
            if name.startswith("_") or name in dict(out):
                continue
            kinds = (property, staticmethod, classmethod)
            if isinstance(member, kinds) or inspect.isfunction(member) \
                    or hasattr(member, "func"):  # functools.cached_property
                out.append((name, getattr(cls, name, member)))
    return out


def _raises_directly(obj) -> bool:
    """Whether the function's own body, or the class's ``__post_init__`` / ``__init__``, has a
    ``raise`` statement (generated ``__init__`` methods have no source and do not count)."""
    targets = [inspect.unwrap(obj)] if inspect.isfunction(obj) else \
        [vars(obj)[m] for m in ("__post_init__", "__init__") if m in vars(obj)]
    for target in targets:
        try:
            source = inspect.getsource(target)
        except (OSError, TypeError):
            continue
        body = source.split('"""', 2)[-1] if '"""' in source else source  # after the docstring
        if "raise " in body:
            return True
    return False


def test_the_audit_sees_the_whole_namespace():
    assert len(PUBLIC) >= 75
    assert NEED_EXAMPLES <= set(PUBLIC)
    assert RESULT_CLASSES <= {n.rsplit(".", 1)[1] for n, o in PUBLIC.items() if inspect.isclass(o)}


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_docstring_sections(name):
    obj = PUBLIC[name]
    doc = _parsed(name, obj)
    assert doc["Summary"], f"{name}: no summary line"
    if _is_exception(obj):
        return
    args = _arguments(obj)
    documented = _documented(doc["Parameters"])
    if inspect.isclass(obj):
        documented |= _documented(doc["Attributes"])
        if name.rsplit(".", 1)[1] in RESULT_CLASSES:
            assert doc["Attributes"], f"{name}: a result class without an Attributes section"
        for member_name, member in _members(obj):
            qualified = f"{name}.{member_name}"
            assert inspect.getdoc(member), f"{qualified} has no docstring"
            member_doc = _parsed(qualified, member)
            if member_doc["Parameters"] and callable(member) and not isinstance(member, property):
                given, named = set(_arguments(member)), _documented(member_doc["Parameters"])
                assert given == named, \
                    f"{qualified}: documents {sorted(named)}, takes {sorted(given)}"
    else:
        assert doc["Returns"] or doc["Yields"], f"{name}: no Returns section"
    if args:
        assert doc["Parameters"] or (inspect.isclass(obj) and doc["Attributes"]), \
            f"{name}: takes arguments but has no Parameters section"
    if _raises_directly(obj):
        assert doc["Raises"], f"{name}: raises, but has no Raises section"
    missing = [a for a in args if a not in documented]
    assert not missing, f"{name}: arguments {missing} are not documented"
    unknown = sorted(_documented(doc["Parameters"]) - set(args))
    assert not unknown, f"{name}: documents parameters {unknown} it does not take"
    if name in NEED_EXAMPLES:
        assert doc["Examples"], f"{name}: a main entry point without an Examples section"
        assert ">>>" in "\n".join(doc["Examples"]), f"{name}: its Examples section runs nothing"


def _doctests() -> list[tuple[str, doctest.DocTest]]:
    finder = doctest.DocTestFinder(recurse=True, exclude_empty=True)
    cases = []
    for name, obj in sorted(PUBLIC.items()):
        # an empty namespace: every example imports what it uses
        tests = [t for t in finder.find(obj, name, globs={}) if t.examples]
        cases.extend((t.name, t) for t in tests)
    return cases


DOCTESTS = _doctests()


def test_there_are_examples_to_run():
    names = {n for n, _ in DOCTESTS}
    assert {n for n in NEED_EXAMPLES} <= names


@pytest.mark.parametrize(
    "case",
    [pytest.param(t, id=n, marks=pytest.mark.slow) if n in SLOW_EXAMPLES else pytest.param(t, id=n)
     for n, t in DOCTESTS],
)
def test_docstring_examples_run(case, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    case.globs.clear()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an example that warns shows a problem set up badly
        report: list[str] = []  # doctest swaps sys.stdout while it runs: collect, then show
        results = runner.run(case, out=report.append)
    seconds = time.perf_counter() - t0
    assert results.failed == 0, "".join(report)
    print(f"{case.name}: {results.attempted} examples in {seconds:.2f} s")
    import matplotlib.pyplot as plt

    plt.close("all")
