"""The body of ``xsweep score``: a folder of predictions in the XTREME submission layout
scored against a folder of gold labels, printed as tables or as JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from tasks.scoring.submission import AVERAGE, OVERALL, TASK_SCORE, SubmissionError, score_folders


def score_command(pred_dir: str, label_dir: str, benchmark: str, split: str, as_json: bool) -> None:
    """Print the per-task, per-language scores (0-100), their averages, each task's score and
    the overall ones; as JSON ``{task: {metric: {lang: value, "avg": ...}}, "overall": ...}``
    with ``as_json``. Bad folders or files end in a one-line error."""
    try:
        scores = score_folders(pred_dir, label_dir, benchmark, split)
    except SubmissionError as error:
        raise click.ClickException(str(error)) from None
    if not scores:
        raise click.ClickException(f"{pred_dir}: no {benchmark} task folder holds {split}-<lang> prediction files")
    if as_json:
        click.echo(json.dumps(scores, indent=2, ensure_ascii=False))
        return
    # Piped into a file or a CI log, rich would squeeze tables into 80 columns.
    console = Console() if sys.stdout.isatty() else Console(width=160)
    for task, metrics in scores.items():
        if task == OVERALL:
            continue
        names = [metric for metric in metrics if metric != TASK_SCORE]
        title = f"{task} ({split}): score {metrics[TASK_SCORE][AVERAGE]:.2f}"
        table = Table("language", *names, title=title, min_width=len(title) + 4)
        languages = [lang for lang in metrics[names[0]] if lang != AVERAGE]
        for lang in [*sorted(languages), AVERAGE]:
            table.add_row(lang, *(f"{metrics[name][lang]:.2f}" for name in names))
        console.print(table)
    overall = scores.get(OVERALL, {}).get(TASK_SCORE, {})
    if overall:
        table = Table("benchmark or group", "score", title=f"{benchmark}: overall")
        for name, value in overall.items():
            table.add_row(name, f"{value:.2f}")
        console.print(table)
    else:
        console.print(f"no {benchmark} overall score: it needs every task's test predictions in every language")
    skipped = sorted({path.name for path in Path(pred_dir).iterdir() if path.is_dir()} - set(scores))
    if skipped:
        console.print(f"not scored (not part of {benchmark}, or no {split}-<lang> files): {', '.join(skipped)}")
