"""The documentation says what the code does: docstring examples run, README lists the variants."""
import ast
import doctest
import os
import re

import pytest

import suite._api
import suite.reference
import suite.model
import suite.registry
from suite.registry import FEATURE_MAP

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("module", [suite._api, suite.reference, suite.registry, suite.model],
                         ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_readme_variant_table_names_every_registered_variant():
    with open(os.path.join(ROOT, "README.md")) as f:
        section = f.read().split("## Variants", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", section, re.M))
    assert documented == set(FEATURE_MAP)


def test_readme_python_examples_run(tmp_path, monkeypatch):
    with open(os.path.join(ROOT, "README.md")) as f:
        blocks = re.findall(r"^```python\n(.*?)^```", f.read(), re.S | re.M)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)   # the examples may write files
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})


def _pyx_def_parameters(source):
    """``{name: [parameter names]}`` of the module-level ``def`` functions of Cython source."""
    found = {}
    for match in re.finditer(r"^def (\w+)\((.*?)\):", source, re.S | re.M):
        params, depth, current = [], 0, ""
        for char in match.group(2) + ",":
            depth += (char in "[(" and 1) or (char in "])" and -1) or 0
            if char == "," and depth == 0:
                if current.strip():
                    params.append(re.findall(r"\w+", current.split("=")[0])[-1])
                current = ""
            else:
                current += char
        found[match.group(1)] = params
    return found


#: The stubs of the compiled modules, beside them in suite/.
STUBS = sorted(f for f in os.listdir(os.path.join(ROOT, "suite"))
               if f.startswith("_") and f.endswith(".pyi"))


def _stub_tree(stub):
    with open(os.path.join(ROOT, "suite", stub)) as f:
        return ast.parse(f.read())


def _pyx_source(stub):
    with open(os.path.join(ROOT, "pyx", "suite", stub[:-len(".pyi")] + ".pyx")) as f:
        return f.read()


@pytest.mark.parametrize("stub", STUBS)
def test_stubs_name_the_compiled_parameters(stub):
    # Each compiled module's stub gives every def function with the parameters of its
    # Cython source, in order.
    compiled = _pyx_def_parameters(_pyx_source(stub))
    stubbed = {node.name: [a.arg for a in node.args.args] for node in _stub_tree(stub).body
               if isinstance(node, ast.FunctionDef)}
    assert stubbed == {name: params for name, params in compiled.items()
                       if not name.startswith("_")}


def _pyx_class_methods(source):
    """``{class: {method: [parameter names]}}`` of the ``cdef class`` blocks of Cython source.

    ``__cinit__``, which builds the object, is reported as ``__init__``, as a stub gives it.
    """
    found = {}
    for match in re.finditer(r"^cdef class (\w+)\b.*?:\n(.*?)(?=^\S|\Z)", source, re.S | re.M):
        body = "\n".join(line[4:] for line in match.group(2).splitlines())
        methods = _pyx_def_parameters(body)
        if "__cinit__" in methods:
            methods["__init__"] = methods.pop("__cinit__")
        found[match.group(1)] = methods
    return found


@pytest.mark.parametrize("stub", STUBS)
def test_stubs_name_the_compiled_methods(stub):
    # What stubtest cannot see: the parameters of __cinit__ (at run time a cdef class's
    # __init__ is object's); and, with it, every def method of every cdef class.
    compiled = _pyx_class_methods(_pyx_source(stub))
    stubbed = {node.name: {f.name: [a.arg for a in f.args.args] for f in node.body
                           if isinstance(f, ast.FunctionDef)}
               for node in _stub_tree(stub).body
               if isinstance(node, ast.ClassDef)
               and not any("Enum" in ast.unparse(base) for base in node.bases)}
    assert stubbed == {name: {m: params for m, params in methods.items()
                              if m == "__init__" or not m.startswith("_")}
                       for name, methods in compiled.items()}


@pytest.mark.parametrize("stub", STUBS)
def test_stub_enums_are_the_compiled_enums(stub):
    # Every enum of the compiled module, with every member and its value, and no other:
    # stubtest names a member the stub lacks, but not one the module lacks, nor a value
    # that differs.
    import enum
    import importlib

    from suite import _runtime
    if (stub == "_kernels_avx512.pyi" and not _runtime._has_avx512()) or (
            stub == "_kernels_avx2.pyi" and not _runtime._has_avx2_fma()):
        pytest.skip(f"this CPU cannot run the instructions {stub[:-4]} was built for "
                    "(importing it would be an illegal instruction)")
    module = importlib.import_module("suite." + stub[:-len(".pyi")])
    compiled = {name: {member.name: member.value for member in obj}
                for name, obj in vars(module).items()
                if isinstance(obj, type) and issubclass(obj, enum.Enum)
                and obj.__module__ == module.__name__}
    stubbed = {node.name: {target.id: ast.literal_eval(item.value)
                           for item in node.body if isinstance(item, ast.Assign)
                           for target in item.targets}
               for node in _stub_tree(stub).body
               if isinstance(node, ast.ClassDef)
               and any("Enum" in ast.unparse(base) for base in node.bases)}
    assert stubbed == compiled


# -- what the Markdown documents name exists, and their numbers are the code's --------------

#: The hand-written documents (docs/performance.md is generated from a report's JSON).
DOCUMENTS = ["README.md", os.path.join("benchmarks", "README.md"), os.path.join("docs", "gate.md")]


def _document(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


def _spans(text):
    """The inline code spans of Markdown ``text`` (fenced and indented blocks left out)."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    text = "\n".join(line for line in text.splitlines() if not line.startswith("    "))
    return re.findall(r"`([^`\n]+)`", text)


def _section(text, heading):
    return text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def _resolve(dotted):
    import importlib
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(dotted)


@pytest.mark.parametrize("path", DOCUMENTS)
def test_documents_name_only_what_the_code_has(path):
    # A name the code lost, or a file it moved, fails here instead of misleading a reader.
    spans = _spans(_document(path))
    names = [s for s in spans if re.fullmatch(r"(suite|benchmarks)(\.\w+)+", s)]
    assert names
    for name in names:
        try:
            _resolve(name)
        except (ImportError, AttributeError) as error:
            pytest.fail(f"{path} names {name}, which does not exist: {error}")
    files = [s.split("::")[0] for s in spans
             if re.fullmatch(r"\.?[\w-]+/[\w./-]*(::\w+)?", s) and not s.startswith(".asv/")]
    assert files
    missing = [f for f in files if not any(os.path.exists(os.path.join(ROOT, d, f))
                                           for d in (".", "suite", "pyx/suite"))]
    assert not missing, f"{path} names files that do not exist: {missing}"
    # The environment switches it names are read by the code.
    sources = "".join(_document(p) for p in (
        "setup.py", "pyx/suite/_runtime.pyx", "benchmarks/counting.py"
        if os.path.exists(os.path.join(ROOT, "benchmarks", "counting.py"))
        else "benchmarks/instructions.py"))
    for switch in set(re.findall(r"\bSUITE_[A-Z0-9_]+", " ".join(spans))):
        assert f'"{switch}"' in sources, f"{path} names {switch}, which no code reads"


def test_readme_map_and_checklist_name_real_files_and_symbols():
    readme = _document("README.md")
    places = [os.path.join(ROOT, d) for d in (".", "pyx/suite", "suite", "suite/report")]
    for heading in ("Map of the code", "Adding a feature-map variant"):
        bare = [s for s in _spans(_section(readme, heading))
                if re.fullmatch(r"[\w.]+\.(pyx|pxd|pxi|tp|h|py)", s)]
        missing = [f for f in bare if not any(os.path.exists(os.path.join(p, f))
                                              for p in places)]
        assert not missing, f"README.md, {heading}: no such file: {missing}"
    # Each step of the checklist names symbols of the files it names.
    steps = re.findall(r"^\d+\. (.*?)(?=^\d+\. |^\S|\Z)",
                       _section(readme, "Adding a feature-map variant"), re.S | re.M)
    assert len(steps) >= 4
    for step in steps:
        spans = _spans(step)
        files = [s for s in spans if "/" in s or re.fullmatch(r"\w+\.py", s)]
        text = "".join(_document(f) for f in files)
        for symbol in spans:
            symbol = symbol.split("(")[0]
            if "/" not in symbol and re.fullmatch(r"\w+", symbol):
                assert re.search(rf"\b{symbol}\b", text), f"{symbol} is in none of {files}"


def test_readme_numbers_are_the_codes():
    readme = _document("README.md")
    # The tiles kernel's register tile: FILTERS channels x the widest of WIDTHS windows.
    tiles = _document("pyx/suite/_tiles.pxi.tp")
    filters = int(re.search(r"^FILTERS = (\d+)$", tiles, re.M).group(1))
    widths = ast.literal_eval(re.search(r"^WIDTHS = (\[.*\])$", tiles, re.M).group(1))
    assert f"| `tiles` | Cython | {filters}-channel x {max(widths)}-window" in readme
    python = re.search(r'^requires-python = ">=([\d.]+)"$', _document("pyproject.toml"),
                       re.M).group(1)
    assert f"Python {python} or newer" in readme


def test_gate_document_gives_the_gate_s_factor():
    from ci_commands import commands

    (gate,) = [c for c in commands("gate") if "--bench instructions" in c]
    factor = float(re.search(r"--factor (\S+)", gate).group(1))
    text = _document(os.path.join("docs", "gate.md"))
    quoted = re.findall(r"--factor (\S+) --bench instructions", text)
    assert quoted and all(float(q) == factor for q in quoted)
    # docs/gate.md: the factor "catches a kernel doing a tenth more work".
    assert "a tenth more" in " ".join(text.split()) and factor < 1.1


def test_the_readme_caps_every_instruction_set_the_report_records():
    # The command that runs an AVX-512 machine as an AVX2 one sets every cap of ISA_CAPS
    # but the one that would take the kernels below AVX2, and nothing the report ignores.
    from suite.report.environment import ISA_CAPS

    readme = _document("README.md")
    (block,) = [b for b in re.findall(r"^```sh\n(.*?)^```", readme, re.S | re.M)
                if "ATEN_CPU_CAPABILITY" in b]
    assert set(re.findall(r"\b([A-Z][A-Z0-9_]+)=", block)) == set(ISA_CAPS) - {"SUITE_NO_AVX2"}
    assert "python -m suite run" in block
    # And the generated AVX2 report was made with them.
    text = _document(os.path.join("docs", "performance-avx2.md"))
    for name in set(ISA_CAPS) - {"SUITE_NO_AVX2"}:
        assert f"`{name}=" in text, name
