"""Sphinx configuration of the skanomaly documentation.

Build from the repository root (examples are executed by sphinx-gallery)::

    sphinx-build -b html docs docs/_build/html

No network access is needed: intersphinx is not used, and no example downloads
anything.
"""

import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))  # document the checkout, installed or not

import skanomaly  # noqa: E402

# -- Project -----------------------------------------------------------------
project = "skanomaly"
author = "skanomaly developers"
copyright = "skanomaly developers"
release = skanomaly.__version__
version = ".".join(release.split(".")[:2])

# -- Extensions --------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
root_doc = "index"
default_role = "literal"  # `x` in docstrings renders as code, never as a broken reference

# -- autodoc / autosummary / numpydoc ----------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"  # types are written in the numpydoc sections
numpydoc_show_class_members = False  # the class template lists members itself
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False


def _documented_elsewhere():
    """Full names that a user-guide page documents with an ``auto*`` directive.

    The guide pages (thresholds.rst, metrics.rst, ...) document objects in
    place with ``.. autoclass::``; the API reference generates a page for
    every public name too. The generated page then carries ``:no-index:``
    (see ``_templates/autosummary``) so each object has one index entry and
    Sphinx sees no duplicate description.
    """
    names = set()
    directive = re.compile(r"^\.\. (currentmodule|module|auto\w+)::\s*(\S+)", re.MULTILINE)
    for page in DOCS.glob("*.rst"):
        if page.name == "api.rst":
            continue
        module = None
        for kind, target in directive.findall(page.read_text(encoding="utf-8")):
            if kind in ("currentmodule", "module"):
                module = target
            elif kind == "automodule":
                continue
            elif "." in target and target.startswith("skanomaly"):
                names.add(target)
            elif module:
                names.add(f"{module}.{target}")
    return sorted(names)


autosummary_context = {"documented_elsewhere": _documented_elsewhere()}

# -- Gallery -----------------------------------------------------------------
from sphinx_gallery import __version__ as _gallery_full_version  # noqa: E402

_gallery_version = tuple(int(part) for part in re.findall(r"\d+", _gallery_full_version)[:2])
sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "doc_module": ("skanomaly",),
    "backreferences_dir": "gen_modules/backreferences",
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "within_subsection_order": "FileNameSortKey",
}
if _gallery_version < (0, 22):  # later versions link code to the local API by themselves
    sphinx_gallery_conf["reference_url"] = {"skanomaly": None}
os.environ.setdefault("MPLBACKEND", "Agg")

# -- intersphinx: deliberately unused (builds must work offline). ------------
# To link to scikit-learn/numpy/torch on a connected machine, add
# "sphinx.ext.intersphinx" to ``extensions`` and fill ``intersphinx_mapping``.

# -- HTML --------------------------------------------------------------------
try:
    import pydata_sphinx_theme  # noqa: F401
except ImportError:
    html_theme = "alabaster"
    html_theme_options = {"description": "Deep anomaly detection, scikit-learn style"}
else:
    html_theme = "pydata_sphinx_theme"
    html_theme_options = {
        "navigation_with_keys": False,
        "show_toc_level": 2,
        "header_links_before_dropdown": 6,
    }
html_title = f"skanomaly {release}"
html_static_path = []
html_show_sourcelink = False


# -- API coverage check ------------------------------------------------------
# Every name in the ``__all__`` of a public module (one without a private part
# in its dotted name) must appear in api.rst, under that module or, for a
# re-exported object, under the module that api.rst lists it from. A name added
# to the package without documentation makes the build warn (and fail under -W).


def _check_api_coverage(app):
    import importlib
    import types

    from sphinx.util import logging

    from skanomaly.utils._discovery import public_modules

    logger = logging.getLogger("skanomaly.api")
    text = (DOCS / "api.rst").read_text(encoding="utf-8")
    listed, module = set(), None
    for line in text.splitlines():
        match = re.match(r"\.\. currentmodule:: (\S+)", line)
        if match:
            module = match.group(1)
        elif module and re.match(r"   [A-Za-z_][\w.]*\s*$", line):
            listed.add(f"{module}.{line.strip()}")
    listed_objects = set()
    for full in listed:
        owner, name = full.rsplit(".", 1)
        try:
            listed_objects.add(id(getattr(importlib.import_module(owner), name)))
        except (ImportError, AttributeError):
            logger.warning("api.rst lists %s, which does not exist", full, location="api")
    for mod in public_modules():
        missing = [
            name for name in getattr(mod, "__all__", [])
            if f"{mod.__name__}.{name}" not in listed
            and not isinstance(getattr(mod, name), types.ModuleType)
            and id(getattr(mod, name)) not in listed_objects
        ]
        if missing:
            logger.warning(
                "api.rst does not list %s from %s.__all__", ", ".join(missing), mod.__name__,
                location="api",
            )


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Document only class members written in skanomaly.

    Members inherited from scikit-learn, skorch, torch or builtins
    (``get_metadata_routing``, ``set_*_request``, ``nn.Module.forward``
    machinery, ...) carry docstrings that refer to their own projects'
    documentation; the class pages show inheritance and leave those out.
    """
    if what != "class":
        return None
    target = getattr(obj, "fget", obj)  # properties
    target = getattr(target, "__func__", target)  # class/static methods
    module = getattr(target, "__module__", None)
    if isinstance(module, str) and not module.startswith("skanomaly"):
        return True
    return None


def setup(app):
    app.connect("builder-inited", _check_api_coverage)
    app.connect("autodoc-skip-member", _skip_foreign_members)
