"""The package's floor plan, read from the source: floors run one way, modules stay short.

Ground (checks, the fit record, the loop, the kernel, the compile cache, data), then
``models/``, then ``infer/``, then the task modules, then the views. A module imports only
its own floor or those below; there is no import circle; no vibook import hides inside a
function; no module reaches into another's private names or into a library's private module.
The tests mirror the package: ``tests/<path>/test_<name>.py`` tests ``vibook/<path>/<name>.py``.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "vibook"
GROUND = {"vibook._checks", "vibook.kernel", "vibook.compile_cache"}
# The fit record and the loop stand above the models (which never import them), with infer/.
RECORD = {"vibook.fit", "vibook.loop"}
GROUND |= {"vibook.data", "vibook.corpora"}
TASKS = {
    "vibook.mixtures",
    "vibook.topics",
    "vibook.online_lda",
    "vibook.topic_scores",
    "vibook.cavi",
    "vibook.regression",
    "vibook.networks",
    "vibook.autoencoders",
    "vibook.diagnostics",
    "vibook.metrics",
    "vibook.intervals",
    "vibook.acquisition",
    "vibook.active",
    "vibook.convnets",
    "vibook.baselines",
    "vibook.laplace",
    "vibook.io",
}
VIEWS = {"vibook.plots", "vibook.panels", "vibook.widgets"}
# The exercises' checkers: what a student reads in the notebook after each answer.
EXERCISES = "vibook.exercises"
MAX_LINES = 460  # "about 450": one sitting's reading (numpyro's infer/svi.py is ~450)
TESTS = Path(__file__).resolve().parent
# Test files about the whole package rather than one module; they stay at the top of tests/,
# as do the benchmarks and the browser tests in their own folders.
WHOLE_PACKAGE_TESTS = {
    "test_layout.py",
    "test_bad_input.py",
    "test_reproducibility.py",
    "test_no_network.py",
    "test_environment.py",
    "test_lock.py",
    "test_venv_setup.py",
    "test_binder.py",
    "test_devices.py",
    "test_distributed.py",  # run_svi(shard_data=True) across processes (benchmarks/distributed.py)
    "test_upstream_contract.py",
    "test_exercises.py",  # vibook.exercises with the notebooks' exercises and their student edition
}
OWN_FOLDERS = {"benchmarks", "browser"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def floor(module: str) -> int:
    """0 ground, 1 models, 2 infer, 3 tasks, 4 views, 5 the package's front door."""
    if module in GROUND:
        return 0
    if module.startswith("vibook.models"):
        return 1
    if module.startswith("vibook.infer") or module in RECORD:
        return 2
    if module in TASKS:
        return 3
    if module in VIEWS or module == EXERCISES or module.startswith(EXERCISES + "."):
        return 4
    if module == "vibook":
        return 5
    raise AssertionError(f"{module} is on no floor: add it to the plan in tests/test_layout.py")


def _imports(path: Path):
    """(imported vibook module, names, line, inside a function) for each import statement."""
    tree = ast.parse(path.read_text())
    in_function = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            in_function |= {id(n) for n in ast.walk(node)}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module, [a.name for a in node.names], node.lineno, id(node) in in_function
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno, id(node) in in_function


def _vibook_target(imported: str, names) -> list[str]:
    """The vibook modules an import statement loads (``from vibook import fit`` loads fit)."""
    if not imported.startswith("vibook"):
        return []
    targets = [imported] if imported in MODULES else []
    targets += [f"{imported}.{n}" for n in names if f"{imported}.{n}" in MODULES]
    return targets or [imported]


def test_every_module_is_on_a_floor():
    for module in MODULES:
        floor(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_only_its_floor_or_below(module):
    for imported, names, line, _ in _imports(MODULES[module]):
        for target in _vibook_target(imported, names):
            if target == module or module.startswith(target + "."):
                continue  # a package's own modules, or a module's own package
            assert floor(target) <= floor(module), (
                f"{module} (floor {floor(module)}) imports {target} (floor {floor(target)}) "
                f"at line {line}: floors run one way"
            )


def test_no_import_circle():
    graph = {
        m: {t for i, n, _, _ in _imports(p) for t in _vibook_target(i, n) if t != m}
        for m, p in MODULES.items()
    }
    # A package's __init__ re-exports its modules: its edges to them are not a circle.
    graph = {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in graph.items()}
    state = {}

    def visit(m, path):
        state[m] = "open"
        for t in sorted(graph.get(m, ())):
            assert state.get(t) != "open", f"import circle: {' -> '.join([*path, m, t])}"
            if t not in state:
                visit(t, [*path, m])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [])


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_vibook_import_inside_a_function(module):
    hidden = [line for i, _, line, inside in _imports(MODULES[module]) if inside and "vibook" in i]
    assert not hidden, f"{module} imports vibook inside a function at line(s) {hidden}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_private_name_across_modules_or_libraries(module):
    for imported, names, line, _ in _imports(MODULES[module]):
        private = [n for n in names if n.startswith("_") and n != "__future__"]
        assert not private or not imported.startswith("vibook"), (
            f"{module} imports private {private} from {imported} at line {line}"
        )
        private_module = [p for p in imported.split(".")[1:] if p.startswith("_")]
        assert not private_module or imported.startswith("vibook"), (
            f"{module} imports from a private module {imported} at line {line}"
        )
        assert not imported.startswith("arviz_base.io_"), (
            f"{module} imports {imported}, which arviz-base does not export (line {line})"
        )


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_is_short_enough_to_read_in_one_sitting(module):
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines (at most {MAX_LINES})"


@pytest.mark.parametrize("pattern", ["._guides", "vars(g", "prototype_trace"])
def test_no_numpyro_internals(pattern):
    found = [m for m, p in MODULES.items() if pattern in p.read_text()]
    assert not found, f"{pattern!r} appears in {found}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.endswith("__init__")))
def test_every_public_module_has_all(module):
    if module.rsplit(".", 1)[-1].startswith("_"):
        pytest.skip("private module")
    tree = ast.parse(MODULES[module].read_text())
    names = {
        t.id
        for n in tree.body
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    assert "__all__" in names, f"{module} has no __all__"


def test_readme_lists_every_module_on_its_floor():
    readme = (PACKAGE.parent / "README.md").read_text()
    rows = dict(
        (cells[2], cells[1])
        for line in readme.splitlines()
        if (cells := [c.strip().strip("`") for c in line.split("|")])[0] == "" and len(cells) > 3
    )
    names = {0: "ground", 1: "models", 2: "infer", 3: "tasks", 4: "views"}
    for module in MODULES:
        if module.endswith("__init__") or module in ("vibook", "vibook.models", "vibook.infer"):
            continue
        assert module in rows, f"README's package table does not list {module}"
        assert rows[module] == names[floor(module)], f"README puts {module} on {rows[module]}"


def test_every_test_file_mirrors_a_module():
    stray = []
    for path in sorted(TESTS.rglob("test_*.py")):
        rel = path.relative_to(TESTS)
        if rel.parts[0] in OWN_FOLDERS or str(rel) in WHOLE_PACKAGE_TESTS:
            continue
        module = PACKAGE.joinpath(*rel.parts[:-1], rel.name.removeprefix("test_"))
        if not module.is_file():
            stray.append(str(rel))
    assert not stray, (
        f"test files that mirror no vibook module: {stray}; the tests of vibook/<path>/<name>.py "
        "go in tests/<path>/test_<name>.py, tests of the whole package at the top of tests/ "
        "(add them to WHOLE_PACKAGE_TESTS in tests/test_layout.py)"
    )
