"""mypy's stubtest on every compiled module of suite that has a stub and this CPU can import.

The kernels are built once per instruction set, and a module built for AVX-512 (or AVX2)
may execute those instructions as soon as it is imported: on a CPU without them that is
an illegal instruction, not a failed check.  Such a module is left out, with a line saying
so; the baseline build has the same stub and is always checked.  Run from the project's
root (.ci/commands, static).
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def modules():
    """Every ``suite._*`` module with a ``.pyi`` stub, sorted."""
    return sorted("suite." + name[: -len(".pyi")]
                  for name in os.listdir(os.path.join(ROOT, "suite"))
                  if name.startswith("_") and name.endswith(".pyi"))


def runnable(module):
    """Whether this CPU runs the instructions ``module`` was compiled for."""
    from suite import _runtime

    needs = {"suite._kernels_avx512": _runtime._has_avx512,
             "suite._kernels_avx2": _runtime._has_avx2_fma}
    return needs.get(module, lambda: True)()


def main():
    checked = []
    for module in modules():
        if runnable(module):
            checked.append(module)
        else:
            print(f"stubtest: {module} left out: this CPU cannot run the instructions it "
                  "was built for", file=sys.stderr)
    return subprocess.call([sys.executable, "-m", "mypy.stubtest", "--mypy-config-file",
                            os.path.join(ROOT, ".ci", "stubtest.ini"), "--allowlist",
                            os.path.join(ROOT, ".ci", "stubtest-allowlist"), *checked],
                           cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
