"""Type stubs for the counted region of the instruction gate (``pyx/suite/_callgrind.pyx``)."""
from typing import Any, Callable

#: The symbol to give ``valgrind --toggle-collect=`` and ``--dump-after=``.
REGION: str

def counted(func: Callable[[], Any]) -> None: ...
