"""Benchmarks: MBPP / HumanEval runs of several methods, resumable results, reports.

Modules: ``runner.py`` (:func:`run_bench`: plan, run and record each task × method),
``datasets.py`` (loading and selecting MBPP / HumanEval tasks), ``tasks.py`` (the task-file
format of ``beadline solve``), ``report.py`` (pass@1, RSR and cost tables, a bar chart).
"""

from __future__ import annotations

from beadline.workflows.bench.datasets import load_tasks, parse_ids
from beadline.workflows.bench.report import write_report
from beadline.workflows.bench.runner import METHODS, BenchSummary, MethodSpec, run_bench
from beadline.workflows.bench.tasks import load_task_file, make_task

__all__ = [
    "METHODS",
    "BenchSummary",
    "MethodSpec",
    "load_task_file",
    "load_tasks",
    "make_task",
    "parse_ids",
    "run_bench",
    "write_report",
]
