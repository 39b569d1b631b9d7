"""Sphinx configuration for the engineio_sc documentation."""

from __future__ import annotations

import engineio_sc

project = "engineio_sc"
author = "The engineio_sc developers"
copyright = "2026, The engineio_sc developers"
release = engineio_sc.__version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
myst_enable_extensions = ["colon_fence"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = "engineio_sc"

autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
nitpicky = False
# The adapters' hints name the engine's AsyncServer; the Socket.IO layer has one too.
autodoc_type_aliases = {"AsyncServer": "engineio_sc.AsyncServer"}
