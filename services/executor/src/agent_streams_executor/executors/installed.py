"""What the interpreter running the code can import, told to the model when an import fails.

Part of the warm runner's bundle (standard library only, see ``runner.source``). A model that
imports a module the sandbox lacks (``sklearn`` before it was added, ``xgboost``, ``torch``)
tends to retry the same import turn after turn; the run's notes then say that the module is not
installed, that nothing can be installed (no network), and which import names are available,
so that the next script uses one of those instead. The list is read once per runner from the
installed distributions (``importlib.metadata``), so an operator's extra packages
(``SANDBOX_EXTRA_PACKAGES``) show up without any configuration. (No ``from __future__``
import here: the bundle puts the modules one after the other into one program.)
"""

import re

_MISSING = re.compile(r"ModuleNotFoundError: No module named '([^']+)'")
_HIDDEN = frozenset({"pip", "setuptools", "wheel", "pkg_resources", "distutils", "_distutils_hack"})
_names: list[str] | None = None


def import_names() -> list[str]:
    """Top-level import names of the installed distributions, with the distribution's name
    where it differs (``sklearn (scikit-learn)``), sorted; computed once."""
    global _names
    if _names is None:
        from importlib.metadata import packages_distributions

        found = []
        for module, dists in packages_distributions().items():
            if module.startswith("_") or module in _HIDDEN or not module.isidentifier():
                continue
            dist = dists[0] if dists else module
            same = dist.lower().replace("-", "_") == module.lower()
            found.append(module if same else f"{module} ({dist})")
        _names = sorted(set(found), key=str.lower)
    return _names


def missing_module_note(error_text: str) -> str | None:
    """A note for a run whose error output shows a missing module, else None."""
    match = _MISSING.search(error_text)
    if match is None:
        return None
    top = match.group(1).split(".")[0]
    return (
        f"module {top!r} is not installed in this sandbox, and nothing can be installed here "
        "(no network, no pip). Use what is installed (import names): " + ", ".join(import_names())
    )
