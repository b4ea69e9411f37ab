"""Frame health (video-quality diagnosis, 视频质量诊断): pure analysers on a downscaled frame.

Every analyser takes a :class:`~sharpeyes.quality.prepare.Prepared` frame (about 640×360) and returns a
:class:`~sharpeyes.quality.finding.Finding` (a score and a verdict); :func:`sharpeyes.quality.diagnose.diagnose`
runs them all and applies the precedence rules documented in docs/quality.md. This package file imports nothing,
so the settings can use :mod:`sharpeyes.quality.thresholds` without loading OpenCV.
"""
