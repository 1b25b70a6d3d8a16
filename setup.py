"""Build the compiled kernels in ``pyx/suite/`` into the ``suite`` package.

Environment switches:

``SUITE_NATIVE=1``
    add ``-march=native`` (the default build is portable).
``SUITE_BOUNDSCHECK=1``
    compile with bounds and initialisation checks, for debugging.

OpenMP is used when the compiler accepts ``-fopenmp``; without it ``prange`` runs serially.
The project builds with GCC or Clang (MinGW on Windows): the ``simd`` kernel is written
with GCC vector extensions, which MSVC does not have.

Every build records the commit it comes from in ``suite/version.py`` (git-ignored), as
``numpy.version.git_revision`` does; an sdist carries the record of its checkout.
"""
import os
import platform
import shutil
import subprocess
import sys
import tempfile

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

MODULES = ["_runtime", "_conv", "_pool", "_conv_pool", "_model", "_callgrind", "_kernels",
           "_kernels_avx2", "_kernels_avx512"]
# Tempita templates (Cython.Tempita, shipped with Cython), rendered beside themselves
# before cythonize: the specialisations of the kernels (one function per dtype and tile
# shape) are generated from the lists at the top of each.  The rendered files are build
# outputs (git-ignored; the sdist carries the templates).
TEMPLATES = ["_tiles.pxi.tp", "_direct.pxi.tp", "_packed.pxi.tp", "_reduce.pxi.tp",
             "_direct_pool.pxi.tp", "_activate.pxi.tp", "_transpose.pxi.tp", "_simd.h.tp"]

# The Cython tiles kernel's sums are vectorised reductions: the compiler may reassociate
# them only with these flags.  Not -ffinite-math-only (nor -ffast-math, which implies it):
# NaN and inf must go through as in the reference.
REDUCTION_FLAGS = ["-fno-math-errno", "-fno-trapping-math", "-fassociative-math",
                   "-fno-signed-zeros"]
# Predictive commoning unrolls the packed kernel's one-vector tiles over the taps, to
# reuse the values the next tap broadcasts; with the reassociation above, a third of
# their multiply-adds then become a multiply and an add.  The tiles and the direct
# kernel of the AVX2 and AVX-512 builds compile to the same code without it.
AVX2_FLAGS = ["-mavx2", "-mfma", "-fno-predictive-commoning"]
# Per-module flags.  _kernels_avx2 and _kernels_avx512 are the same kernels as _kernels
# compiled for AVX2+FMA and for AVX-512; suite._runtime imports the widest the CPU runs,
# so the build stays portable.  The direct kernel's vectors are explicit (64 bytes with
# AVX-512); what the compiler vectorises, the tiles' reductions, stays at 256 bits, which
# ran 1.0-1.7x faster than 512 on the text-CNN shapes: 12 accumulators of 64 bytes ask
# more of L2 than it delivers.
MODULE_FLAGS = {
    "_kernels": REDUCTION_FLAGS,
    "_kernels_avx2": REDUCTION_FLAGS + AVX2_FLAGS,
    "_kernels_avx512": REDUCTION_FLAGS + AVX2_FLAGS + [
        "-mavx512f", "-mavx512vl", "-mprefer-vector-width=256"],
}
# Modules built only on x86-64.
X86_ONLY = {"_kernels_avx2", "_kernels_avx512"}

ROOT = os.path.dirname(os.path.abspath(__file__))
VERSION_MODULE = os.path.join(ROOT, "suite", "version.py")


def _git(*args):
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()


def write_version_module():
    """Write the commit and whether the tracked files differ from it to ``suite/version.py``.

    Outside a git checkout of this project (an unpacked sdist) the module the sdist
    carries is kept.
    """
    try:
        if os.path.realpath(_git("rev-parse", "--show-toplevel")) != os.path.realpath(ROOT):
            raise OSError("not the project's own checkout")
        revision = _git("rev-parse", "HEAD")
        dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError):
        if os.path.exists(VERSION_MODULE):
            return
        revision, dirty = None, None
    with open(VERSION_MODULE, "w") as f:
        f.write('"""The commit this build of suite was made from (written by setup.py)."""\n\n'
                f"git_revision = {revision!r}\n"
                "# Whether tracked files differed from that commit when it was built.\n"
                f"dirty = {dirty!r}\n")


def render_templates():
    """Render ``TEMPLATES`` to the files they name without ``.tp``, when the text changed.

    A file left as it was keeps its time stamp, so cythonize and ccache see no change.
    """
    from Cython import Tempita

    for name in TEMPLATES:
        template = os.path.join(ROOT, "pyx", "suite", name)
        target = template[: -len(".tp")]
        with open(template) as f:
            text = Tempita.sub(f.read())
        note = f"Rendered by setup.py from {name}: edit the template, not this file."
        text = (f"/* {note} */\n" if target.endswith(".h") else f"# {note}\n") + text
        if os.path.exists(target):
            with open(target) as f:
                if f.read() == text:
                    continue
        with open(target, "w") as f:
            f.write(text)


def _flag(name):
    return os.environ.get(name, "") not in ("", "0")


def _links(compiler, source, flags, link_flags=()):
    """Whether ``compiler`` compiles and links the C program ``source`` with ``flags``."""
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(source)
        objects = compiler.compile([src], output_dir=tmp, extra_postargs=flags)
        compiler.link_executable(objects, "probe", output_dir=tmp,
                                 extra_postargs=flags + list(link_flags))
        return True
    except Exception:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


OPENMP_PROBE = "#include <omp.h>\nint main(void) { return omp_get_max_threads() < 1; }\n"
# glibc's vector math library: the AVX2 and AVX-512 builds' activation loops call its tanh
# and expm1 (see _activate.pxi.tp) where a vectorised tanh loop links with it.
LIBMVEC_PROBE = """#include <math.h>
__attribute__((simd("notinbranch"))) extern double tanh(double);
double v[64];
int main(void) { for (int i = 0; i < 64; i++) v[i] = tanh(v[i]); return v[0] != 0; }
"""


class BuildExt(build_ext):
    def build_extensions(self):
        if self.compiler.compiler_type == "msvc":
            sys.exit("textcnn-suite builds with GCC or Clang (the simd kernel uses GCC vector "
                     "extensions); MSVC is not supported")
        compile_args = ["-O3"]
        if _flag("SUITE_NATIVE"):
            compile_args.append("-march=native")
        openmp = ["-fopenmp"]
        if not _links(self.compiler, OPENMP_PROBE, openmp):
            print("suite: the compiler has no OpenMP; building serial kernels", file=sys.stderr)
            openmp = []
        if platform.machine().lower() not in ("x86_64", "amd64"):
            self.extensions = [e for e in self.extensions
                               if e.name.rsplit(".", 1)[1] not in X86_ONLY]
        libmvec = _links(self.compiler, LIBMVEC_PROBE, ["-O3", "-mavx2", "-fno-math-errno"],
                         ["-lmvec", "-lm"])
        for ext in self.extensions:
            name = ext.name.rsplit(".", 1)[1]
            ext.extra_compile_args += MODULE_FLAGS.get(name, [])
            ext.extra_compile_args += compile_args + openmp
            ext.extra_link_args += openmp
            if name in X86_ONLY:
                if libmvec:
                    ext.extra_link_args += ["-lmvec"]
                else:
                    ext.define_macros.append(("SUITE_NO_LIBMVEC", "1"))
        if self.parallel is None:
            # The modules are independent: compile them on every core.
            self.parallel = os.cpu_count() or 1
        super().build_extensions()


checks = _flag("SUITE_BOUNDSCHECK")
directives = {
    "language_level": 3,
    "boundscheck": checks,
    "wraparound": False,
    "initializedcheck": checks,
    "cdivision": True,
    "embedsignature": True,
}
extensions = [
    Extension(
        f"suite.{name}",
        [f"pyx/suite/{name}.pyx"],
        include_dirs=[numpy.get_include(), "pyx/suite"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
    )
    for name in MODULES
]

write_version_module()
render_templates()
setup(
    ext_modules=cythonize(extensions, include_path=["pyx"], compiler_directives=directives),
    cmdclass={"build_ext": BuildExt},
)
