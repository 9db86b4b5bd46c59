# A two-chapter handbook in the real one's shape: one file per chapter, numbered toctree.
extensions = ["myst_parser", "sphinx_handbook"]
project = "Testhandbuch"
version = "2.0"
language = "de"
root_doc = "index"
source_suffix = {".md": "markdown"}
html_theme = "furo"
myst_heading_anchors = 3
