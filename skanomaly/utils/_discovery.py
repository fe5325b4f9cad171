"""The package's public modules, for the tests that cover every public object."""

import importlib
import pkgutil


def public_modules():
    """Yield ``skanomaly`` and every submodule whose dotted name has no private part."""
    import skanomaly

    yield skanomaly
    for info in pkgutil.walk_packages(skanomaly.__path__, "skanomaly."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            yield importlib.import_module(info.name)
