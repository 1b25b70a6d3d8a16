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
