"""The `qkhw` console script: the Rust command line inside the extension."""
import sys

from . import _qkhw


def main() -> None:
    """Run `qkhw` on `sys.argv` and exit with its code."""
    sys.exit(_qkhw.main(["qkhw", *sys.argv[1:]]))
