"""This process's place in an ``accelerate launch`` (or ``torchrun``) run; one process without one."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import Any

__all__ = ["Processes", "processes"]


@dataclass(frozen=True)
class Processes:
    """The processes of a run: this one's index, how many there are, and ``accelerate``'s state (None alone)."""

    index: int = 0
    count: int = 1
    state: Any = None

    @property
    def is_main(self) -> bool:
        return self.index == 0

    @property
    def device(self) -> str | None:
        """This process's device under a launch (None alone: the caller picks)."""
        return str(self.state.device) if self.state is not None else None

    def wait_for_everyone(self) -> None:
        if self.state is not None:
            self.state.wait_for_everyone()

    def finish(self) -> None:
        """Ends a launch cleanly: every process waits for the others (the main one may still be writing results),
        then the process group is destroyed (a process that exits with it alive aborts in the communication
        library's threads, "terminate called without an active exception", and the launcher kills the others)."""
        if self.state is None:
            return
        import torch.distributed

        self.state.wait_for_everyone()
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()

    def sum(self, value: float) -> float:
        """The sum of ``value`` over the processes (every process must call it)."""
        if self.state is None:
            return value
        from accelerate.utils import gather_object

        return sum(gather_object([value]))


@cache
def processes() -> Processes:
    """The run's processes: ``accelerate.PartialState`` when ``WORLD_SIZE`` > 1 (on CPU-only machines with the gloo
    backend, so ``accelerate launch --multi_gpu --num_processes 2`` also works without a GPU), else one process."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return Processes()
    import torch
    from accelerate import PartialState

    state = PartialState(cpu=not torch.accelerator.is_available())
    return Processes(state.process_index, state.num_processes, state)
