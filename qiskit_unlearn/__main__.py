"""``python -m qiskit_unlearn``: the ``qunlearn`` command where its script is not on ``PATH``.

Notebooks and embedded interpreters often run a Python whose ``bin/`` is not on ``PATH``;
``sys.executable -m qiskit_unlearn`` always reaches the installed package.
"""

import sys

from qiskit_unlearn.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
