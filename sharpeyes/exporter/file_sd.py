"""Prometheus file-based service discovery for the blackbox-style ``/probe`` endpoint.

``sharpeyes registry export --format file-sd [--module NAME …]`` writes one target group per area (and per
module, when given): the in-service cameras' ids as targets and the area's ids as labels (never names: labels
carry ids and closed values only), plus ``module`` when given. A scrape config then turns each target into
a ``/probe`` request on the daemon (``dashboards/prometheus/prometheus.example.yml`` maps the ``module``
label to ``__param_module``; without ``--module``, set ``params: {module: [NAME]}`` in the job instead)::

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
from collections.abc import Sequence

from sharpeyes.registry.inventory import Inventory


def to_file_sd(inventory: Inventory, modules: Sequence[str] = ()) -> str:
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
        if not modules:
            groups.append({"targets": targets, "labels": labels})
        for module in modules:
            groups.append({"targets": targets, "labels": {**labels, "module": module}})
    return json.dumps(groups, ensure_ascii=False, indent=1) + "\n"
