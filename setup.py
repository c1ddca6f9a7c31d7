"""Build hook: the wheel also installs ``gsi_bench_evaluate_modules.pth`` at the top of site-packages.

Its one line runs :func:`gsi_metrics.evaluate_cache.register_quietly` when Python starts, so that
``evaluate.load("<module name>")`` finds the GSI-Bench evaluate modules by bare name, offline, right after
``pip install`` (see gsi_metrics/evaluate_cache.py). Everything else is configured in setup.cfg.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PTH_FILE = "gsi_bench_evaluate_modules.pth"
PTH_LINE = "import gsi_metrics.evaluate_cache as _gsi; _gsi.register_quietly()\n"


class BuildPyWithStartupHook(build_py):
    """``build_py`` that adds the start-up ``.pth`` file next to the packages."""

    def run(self) -> None:
        super().run()
        Path(self.build_lib, PTH_FILE).write_text(PTH_LINE)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), str(Path(self.build_lib, PTH_FILE))]


setup(cmdclass={"build_py": BuildPyWithStartupHook})
