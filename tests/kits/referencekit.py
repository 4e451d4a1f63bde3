"""The reference's ``src`` package imported in the test process under a private name, so kit
tests of the reference never clash with another ``src`` (a template or a submission) imported
elsewhere in the same session."""
from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType

from autograder import paths


def reference_module(module: str, alias: str) -> ModuleType:
    """``reference/src/<module>.py`` imported as part of the package named ``alias``."""
    if alias not in sys.modules:
        src = paths.reference_dir() / "src"
        spec = importlib.util.spec_from_file_location(
            alias, src / "__init__.py", submodule_search_locations=[str(src)])
        package = importlib.util.module_from_spec(spec)
        sys.modules[alias] = package
        spec.loader.exec_module(package)
    return importlib.import_module(f"{alias}.{module}")
