"""Prometheus file-based service discovery for the blackbox-style ``/probe`` endpoint.

``sharpeyes registry export --format file-sd`` writes one target group per area: the in-service cameras'
ids as targets and the area's ids as labels (never names: labels carry ids and closed values only). A scrape
config then turns each target into a ``/probe`` request on the daemon::

    - job_name: sharpeyes_probe
      metrics_path: /probe
      params: {module: [rtsp_describe]}
      file_sd_configs: [{files: [/etc/prometheus/sharpeyes-cameras.json]}]
      relabel_configs:
        - {source_labels: [__address__], target_label: __param_camera}
        - {source_labels: [__param_camera], target_label: camera_id}
        - {target_label: __address__, replacement: 127.0.0.1:9753}
"""

from __future__ import annotations

import json
from collections import defaultdict

from sharpeyes.registry.inventory import Inventory


def to_file_sd(inventory: Inventory) -> str:
    """The registry as a file_sd JSON document (areas without in-service cameras are left out)."""
    by_area: dict[str, list[str]] = defaultdict(list)
    for cam in inventory.cameras:
        if cam.in_service:
            by_area[cam.area].append(cam.id)
    groups = []
    for area in inventory.areas:
        targets = sorted(by_area.get(area.id, []))
        if not targets:
            continue
        labels = {"area_id": area.id, "district": area.district, "scope": area.scope.value}
        if area.sector:
            labels["sector"] = area.sector
        groups.append({"targets": targets, "labels": labels})
    return json.dumps(groups, ensure_ascii=False, indent=1) + "\n"
