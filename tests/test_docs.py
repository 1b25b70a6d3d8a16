"""The documentation says what the code does: docstring examples run, README lists the variants."""
import doctest
import os
import re

import pytest

import suite._api
import suite.reference
import suite.registry
from suite.registry import FEATURE_MAP

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("module", [suite._api, suite.reference, suite.registry],
                         ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_readme_variant_table_names_every_registered_variant():
    with open(os.path.join(ROOT, "README.md")) as f:
        section = f.read().split("## Variants", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", section, re.M))
    assert documented == set(FEATURE_MAP)
