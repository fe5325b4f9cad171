"""The demo behind the README's quick start runs end to end."""

import io

from skanomaly.cli import run_demo


def test_demo_prints_metrics_and_writes_its_plot(tmp_path):
    out = io.StringIO()
    results = run_demo(str(tmp_path / "demo.png"), max_epochs=1, device="cpu", stream=out)
    assert (tmp_path / "demo.png").stat().st_size > 0
    assert 0.5 < results["roc_auc"] <= 1  # one epoch already ranks the incidents
    assert "roc_auc" in out.getvalue() and "plot written" in out.getvalue()
