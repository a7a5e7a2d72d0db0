"""Issue 13 item 7: encoder restarts and active encoders are histograms too (beside the counter/gauge)."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from torrent_streamer.core.metrics import Metrics


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_restarts_and_active_encoders_are_observed_as_histograms() -> None:
    metrics = Metrics()
    for running in (1, 2, 1, 0):
        metrics.on_active_encoders(running)
    metrics.on_encoder_restart(1)
    metrics.on_encoder_restart(2)
    got = samples(metrics)
    assert got[("ts_media_encoders", ())] == 0
    assert got[("ts_media_active_encoders_count", ())] == 4
    assert got[("ts_media_active_encoders_sum", ())] == 4
    assert got[("ts_media_active_encoders_bucket", (("le", "1.0"),))] == 3
    assert got[("ts_media_encoder_restarts_total", ())] == 2
    assert got[("ts_media_encoder_restarts_per_variant_count", ())] == 2
    assert got[("ts_media_encoder_restarts_per_variant_bucket", (("le", "1.0"),))] == 1
