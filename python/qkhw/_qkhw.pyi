"""Type stubs of the native half (python/src/lib.rs). Use the API in
``qkhw`` (``qkhw.load``, ``Model``); these are its building blocks."""
from os import PathLike
from typing import Any

import numpy as np
import numpy.typing as npt

__version__: str

class Error(ValueError):
    """What qkhw could not do: the same one-line message as the ``qkhw``
    command prints after ``error:``."""

class NativeModel:
    """A model read by qkhw's own reader, ready for the golden model."""

    def __init__(self, path: str | PathLike[str], internal_sigmoid: str, keep_unbuilt: bool = False) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    def inputs(self) -> list[tuple[str, list[int]]]: ...
    def outputs(self) -> list[tuple[str, list[int]]]: ...
    def predict(
        self,
        xs: list[npt.NDArray[np.float32]],
        codes: bool = False,
        input_format: str | None = None,
        config_json: str | None = None,
        output_head: str | None = None,
        threads: int = 0,
    ) -> tuple[list[np.ndarray], list[tuple[str, str, int]], list[str]]: ...
    def quantized_weights(self) -> tuple[dict[str, dict[str, Any]], list[str]]: ...
    def sparsity(self) -> tuple[float, list[tuple[str, float]]]: ...
    def inspect_json(self) -> str: ...
    def layer_outputs(
        self,
        xs: list[npt.NDArray[np.float32]],
        layers: list[str],
        input_format: str | None = None,
        config_json: str | None = None,
        threads: int = 0,
    ) -> tuple[list[tuple[str, str, np.ndarray, np.ndarray | None]], list[str]]: ...
    def debug(
        self,
        xs: list[npt.NDArray[np.float32]],
        input_format: str | None = None,
        config_json: str | None = None,
        threads: int = 0,
        plot: str | PathLike[str] | None = None,
    ) -> str: ...

def run_cli(argv: list[str]) -> int: ...
def main(argv: list[str]) -> int: ...
def quantize(
    spec: str, x: npt.NDArray[np.float32], internal_sigmoid: str = "hard", codes: bool = False
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray | None, np.ndarray | None, str] | None]: ...
