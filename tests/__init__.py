"""The test suite. One BLAS thread per process, set before anything imports numpy.

The suite runs several xdist workers (and the ``hapbot`` processes they start) on a couple of
cores; each would otherwise start an OpenBLAS thread per core for the FAQ classifier's solve, and
those threads spin waiting for work: measured on tests/test_faq_library.py alone, 20 % more CPU
for the same results, and more with every extra worker.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
