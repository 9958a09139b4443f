from pathlib import Path

import pytest

from sweeper.tracking import resolve_tracking_uri, runs_table_url, with_averages


def test_default_uri_is_sqlite_in_the_working_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    assert resolve_tracking_uri(None) == f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///rel/x.db")
    assert resolve_tracking_uri(None) == f"sqlite:///{tmp_path / 'rel' / 'x.db'}"
    assert resolve_tracking_uri("http://tracker:5000") == "http://tracker:5000"
    with pytest.raises(ValueError, match="no scheme"):
        resolve_tracking_uri("just/a/path")


def test_averages_over_languages() -> None:
    metrics = with_averages({"dev/accuracy/en": 0.9, "dev/accuracy/de": 0.6, "dev/accuracy/fr": 0.4})
    assert metrics["dev/accuracy/avg"] == pytest.approx(19 / 30)
    assert metrics["dev/accuracy/avg_non_en"] == pytest.approx(0.5)
    assert "dev/accuracy/avg_non_en" not in with_averages({"dev/accuracy/en": 1.0})


def test_runs_table_link_skips_the_genai_overview() -> None:
    assert runs_table_url("sqlite:////x/mlflow.db", "7") == "http://127.0.0.1:5000/#/experiments/7/runs"
    assert runs_table_url("https://mlflow.lab", "7") == "https://mlflow.lab/#/experiments/7/runs"
