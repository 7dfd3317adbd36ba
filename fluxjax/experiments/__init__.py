"""The study's experiments, one module per question.

Each has ``run(config) -> dict`` and plots of its result;
:mod:`fluxjax.experiments.reproduce` runs them all and writes the report.
"""

from ._common import StudyConfig as StudyConfig
