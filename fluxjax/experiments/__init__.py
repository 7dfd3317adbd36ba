"""The study's experiments, one module per question.

Each has ``run(config)``, returning a typed result (a NamedTuple), and plots of it;
:mod:`fluxjax.experiments.reproduce` computes them all, :mod:`~.claims` judges the
paper's claims and :mod:`~.report` renders the report.
"""

from ._common import StudyConfig as StudyConfig
