"""``/v1/metrics``: every catalogue metric with its unit and a label in Vietnamese and English."""

from __future__ import annotations

from fastapi.testclient import TestClient

from firmware_contracts.catalogue import load_catalogue
from tests.plugins.api import Keys


def test_every_metric_has_both_labels(api_client: TestClient, keys: Keys) -> None:
    assert api_client.get("/v1/metrics").status_code == 401
    response = api_client.get("/v1/metrics", headers=keys["viewer_a"])
    assert response.status_code == 200, response.text
    items = {m["metric"]: m for m in response.json()}
    assert items.keys() == load_catalogue().keys()
    for name, metric in items.items():
        assert metric["label_vi"], name
        assert metric["label_en"], name
        assert metric["label_vi"] != name  # a name for people, not the code
    assert items["traffic_headway_mean"]["label_vi"] == "Giãn cách xe trung bình"
    assert items["water_ph"]["unit"] == "pH"
