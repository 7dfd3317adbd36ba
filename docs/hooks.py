"""MkDocs hook for the fluxjax site.

Publish the notebooks: they live in ``notebooks/`` (outside ``docs/``, where the
test suite runs them); each ``.ipynb`` is added to the site as a downloadable file,
so that ``docs/notebooks.md`` can link to ``notebooks/<name>.ipynb`` and a broken
link still fails ``mkdocs build --strict``.
"""

from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Adds ``notebooks/*.ipynb`` of the repository to the site's files."""
    root = Path(config.config_file_path).parent
    for notebook in sorted((root / "notebooks").glob("*.ipynb")):
        files.append(
            File.generated(
                config, f"notebooks/{notebook.name}", abs_src_path=str(notebook)
            )
        )
    return files
