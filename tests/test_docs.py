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
