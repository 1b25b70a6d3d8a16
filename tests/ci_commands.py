"""The commands CI runs, as ``.ci/commands`` holds them (``.ci/run`` and ``.ci/gate`` read it).

One command a line, ``NAME: COMMAND``; ``#`` starts a comment line.  A name may be given on
several lines, which run in order.
"""
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATH = os.path.join(ROOT, ".ci", "commands")
#: The names .ci/run and .ci/gate run, in the order .ci/run runs them.
NAMES = ("install", "static", "test", "slow", "gate")


def read(path=PATH):
    """Every command of the file at ``path``, as ``(name, command)`` pairs in file order."""
    pairs = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            match = re.fullmatch(r"([a-z]+): (\S.*)", line)
            if match is None:
                raise ValueError(f"{path}:{number}: not NAME: COMMAND: {line!r}")
            pairs.append((match.group(1), match.group(2)))
    return pairs


def commands(name, path=PATH):
    """The command lines given for ``name``, in file order."""
    return [command for n, command in read(path) if n == name]
