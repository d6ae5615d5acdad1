import os

os.environ.setdefault('OMP_NUM_THREADS', '2')

import repl_mm  # noqa: E402,F401  registers the RepL backbones in every installed toolbox
