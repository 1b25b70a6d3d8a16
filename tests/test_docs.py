"""The documentation says what the code does: docstring examples run, README lists the variants."""
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
            depth += char in "[(" and 1 or char in "])" and -1 or 0
            if char == "," and depth == 0:
                if current.strip():
                    params.append(re.findall(r"\w+", current.split("=")[0])[-1])
                current = ""
            else:
                current += char
        found[match.group(1)] = params
    return found


@pytest.mark.parametrize("stub", sorted(f for f in os.listdir(os.path.join(ROOT, "suite"))
                                        if f.startswith("_") and f.endswith(".pyi")))
def test_stubs_name_the_compiled_parameters(stub):
    # Each compiled module's stub gives every def function with the parameters of its
    # Cython source, in order.
    import ast
    pyx = os.path.join(ROOT, "pyx", "suite", stub[:-len(".pyi")] + ".pyx")
    with open(pyx) as f:
        compiled = _pyx_def_parameters(f.read())
    with open(os.path.join(ROOT, "suite", stub)) as f:
        tree = ast.parse(f.read())
    stubbed = {node.name: [a.arg for a in node.args.args] for node in tree.body
               if isinstance(node, ast.FunctionDef)}
    assert stubbed == {name: params for name, params in compiled.items()
                       if not name.startswith("_")}
