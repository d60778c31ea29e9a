"""pytest setup shared by the unit tests and the nbval notebook run.

The tests train many small heads; on a 2-core machine one intra-op thread is faster for such small tensors than
two threads contending (measured: a 5-epoch digits run took 13 s with 2 threads under load, 1.9 s with 1), and
notebook kernels started by nbval inherit the environment set here.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
