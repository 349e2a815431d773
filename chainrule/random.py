"""The seeded random generator behind every random function (``rand``, ``randn``, dropout, init …).

``manual_seed(s)`` reseeds the default generator, so one call makes a whole run reproducible. A
``Generator`` of one's own can be passed as ``generator=`` wherever PyTorch accepts one.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from chainrule import recording
from chainrule.errors import ChainruleError

__all__ = ["Generator", "manual_seed", "seed", "initial_seed", "get_rng_state", "set_rng_state",
           "default_generator"]


class Generator:
    """A source of random numbers (NumPy's PCG64), seeded with ``manual_seed``."""

    def __init__(self, device: Any = "cpu") -> None:
        from chainrule.tensor import check_device

        check_device(device)
        self._seed = 67280421310721  # PyTorch's default seed, for a recognisable start
        self.numpy = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed: int) -> Generator:
        """Reset the generator to a known state."""
        if not isinstance(seed, (int, np.integer)):
            raise ChainruleError(f"manual_seed: the seed must be an int, got {type(seed).__name__}")
        self._seed = int(seed)
        self.numpy = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        """Seed from the operating system's entropy; return the seed used."""
        self.manual_seed(int(np.random.SeedSequence().entropy % (2 ** 63)))
        return self._seed

    def initial_seed(self) -> int:
        """The seed last set."""
        return self._seed

    def get_state(self) -> Any:
        """The full state as a uint8 tensor (what checkpoints store)."""
        from chainrule.tensor import wrap

        text = json.dumps({"seed": self._seed, "bit_generator": self.numpy.bit_generator.state})
        return wrap(np.frombuffer(text.encode(), dtype=np.uint8).copy())

    def set_state(self, state: Any) -> None:
        """Restore a state returned by ``get_state``."""
        data = np.asarray(state._data if hasattr(state, "_data") else state, dtype=np.uint8)
        try:
            decoded = json.loads(data.tobytes().decode())
            self._seed = int(decoded["seed"])
            bit_generator = np.random.PCG64()
            bit_generator.state = decoded["bit_generator"]
        except (ValueError, KeyError, TypeError) as error:
            raise ChainruleError(f"set_state: not a state returned by get_state ({error})") from None
        self.numpy = np.random.Generator(bit_generator)


default_generator = Generator()


def numpy_generator(generator: Generator | None = None) -> np.random.Generator:
    """The NumPy generator to draw from: ``generator``'s, or the default one's."""
    recording.refuse("a random draw outside an operation (randn, an in-place dropout's mask, …)",
                     "draw the random values outside the compiled step and pass them in as a tensor, or "
                     "run this step eagerly")
    return (generator or default_generator).numpy


def manual_seed(seed: int) -> Generator:
    """Seed the default generator, which drives every random function in chainrule."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator from the operating system's entropy."""
    return default_generator.seed()


def initial_seed() -> int:
    """The default generator's seed."""
    return default_generator.initial_seed()


def get_rng_state() -> Any:
    """The default generator's state, as a uint8 tensor."""
    return default_generator.get_state()


def set_rng_state(state: Any) -> None:
    """Restore the default generator's state."""
    default_generator.set_state(state)
