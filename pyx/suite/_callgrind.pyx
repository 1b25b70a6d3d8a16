"""A marked region for counting the instructions of one call under callgrind.

``counted(func)`` calls ``func()`` inside the C function ``textcnn_suite_counted_region``.
Run Python under ``valgrind --tool=callgrind --toggle-collect=textcnn_suite_counted_region``
and callgrind counts only what happens inside that function: the call, not the interpreter
start-up, the imports or the set-up of the inputs.  Outside valgrind it is a plain call.

The region is found by its symbol rather than by callgrind's client requests
(``CALLGRIND_ZERO_STATS`` and friends from ``valgrind/callgrind.h``) so that this module
needs no valgrind headers to compile: it builds, and the package installs, on every machine,
and only counting needs valgrind, at run time.  The function is exported with default
visibility (so it stays in the dynamic symbol table of a stripped module) and kept out of
inlining and interprocedural cloning, so that the symbol callgrind looks for is the one
that runs.
"""

cdef extern from *:
    """
    #if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 8
    #define TEXTCNN_SUITE_REGION __attribute__((noipa, noinline, used, visibility("default")))
    #elif defined(__GNUC__) || defined(__clang__)
    #define TEXTCNN_SUITE_REGION __attribute__((noinline, used, visibility("default")))
    #else
    #define TEXTCNN_SUITE_REGION
    #endif

    TEXTCNN_SUITE_REGION int textcnn_suite_counted_region(PyObject *func)
    {
        PyObject *result = PyObject_CallObject(func, NULL);
        if (result == NULL)
            return -1;
        Py_DECREF(result);
        return 0;
    }
    """
    int textcnn_suite_counted_region(object func) except -1


#: The symbol to give ``valgrind --toggle-collect=`` and ``--dump-after=``.
REGION = "textcnn_suite_counted_region"


def counted(func):
    """Call ``func()`` inside the counted region.

    Parameters
    ----------
    func : callable
        Called with no arguments; its result is discarded.

    Returns
    -------
    None

    Notes
    -----
    Under ``valgrind --tool=callgrind --toggle-collect=textcnn_suite_counted_region
    --dump-after=textcnn_suite_counted_region`` every call writes one profile part holding
    exactly the instructions of ``func()``.
    """
    textcnn_suite_counted_region(func)
