"""Report labels in English and Chinese (one table, looked up by key)."""

from __future__ import annotations

LANGS = ("zh", "en")

_LABELS: dict[str, tuple[str, str]] = {
    "title": ("Video network audit", "视频联网巡检报告"),
    "window": ("Window", "统计周期"),
    "generated": ("Generated", "生成时间"),
    "district": ("District", "行政区划"),
    "scope": ("Scope", "范围"),
    "city": ("City-wide", "全市"),
    "public": ("Key public areas", "重点公共区域"),
    "sector": ("Key industries", "重点行业"),
    "all": ("All", "合计"),
    "areas": ("Areas", "点位区域数"),
    "areas_covered": ("Covered", "已覆盖"),
    "cameras": ("Cameras", "摄像机"),
    "in_service": ("In service", "在用"),
    "connected": ("Connected", "已联网"),
    "online": ("Online", "在线"),
    "healthy": ("Healthy", "完好"),
    "coverage": ("Coverage", "覆盖率"),
    "connection": ("Connection", "联网率"),
    "online_now": ("Online now", "在线率(当前)"),
    "online_time": ("Online (time)", "在线率(时长)"),
    "good_order": ("Good order", "完好率"),
    "image_quality": ("Image quality", "图像合格率"),
    "target": ("Target", "目标"),
    "met": ("met", "达标"),
    "not_met": ("NOT MET", "未达标"),
    "verdict_ok": ("Every target met", "全部达标"),
    "verdict_fail": ("Targets not met", "未全部达标"),
    "rates": ("Rates by district", "各区划指标"),
    "uncovered": ("Uncovered areas", "未覆盖区域"),
    "required": ("Required", "应配"),
    "registered": ("Registered", "已登记"),
    "more_needed": ("More needed", "尚缺"),
    "to_register": ("To register", "需新增"),
    "why": ("Why", "原因"),
    "never_reached": ("Cameras never reached", "从未联通的摄像机"),
    "offline_longest": ("Offline longest in the window", "周期内离线最久"),
    "faults": ("Cameras with faults, by code", "故障摄像机(按故障类型)"),
    "registry_gaps": ("Registry gaps", "登记缺口"),
    "availability": ("Availability over the window", "周期内在线率走势"),
    "camera": ("Camera", "摄像机"),
    "name": ("Name", "名称"),
    "area": ("Area", "区域"),
    "state": ("State", "状态"),
    "since": ("Since", "自"),
    "down_time": ("Offline", "离线时长"),
    "fault": ("Fault", "故障"),
    "code": ("Code", "类型"),
    "count": ("Count", "数量"),
    "kind": ("Kind", "类别"),
    "none": ("None.", "无。"),
    "day": ("Day", "日期"),
    "up": ("up", "在线"),
    "down": ("down", "离线"),
    "unknown": ("unknown", "未知"),
    "out_of_service": ("out of service", "停用"),
    "never_probed": ("never probed", "从未检测"),
    "offline": ("offline", "离线"),
    "unchecked": ("picture not checked", "画面未检测"),
    "area_short": ("area with too few cameras registered", "区域登记摄像机不足"),
    "camera_without_area": ("camera with no area", "摄像机无所属区域"),
    "faults_chart": ("Faults by code", "故障类型分布"),
    "rates_chart": ("Rates against targets", "指标与目标对比"),
    "signal_loss": ("signal loss", "信号丢失"),
    "black": ("too dark", "亮度异常(过暗)"),
    "overexposed": ("too bright", "亮度异常(过亮)"),
    "low_contrast": ("low contrast", "对比度异常"),
    "blur": ("blur", "清晰度异常"),
    "color_cast": ("colour cast", "偏色"),
    "noise": ("noise", "雪花/噪声"),
    "stripes": ("stripes", "条纹干扰"),
    "frozen": ("frozen", "画面冻结"),
    "occluded": ("occluded", "遮挡"),
    "scene_changed": ("scene changed", "场景变更"),
    "frame_fault": ("picture fault (unspecified)", "画面故障(未细分)"),
    "clock_skew": ("clock skew", "时钟偏差"),
    "fail_under": ("Thresholds (--fail-under)", "门限(--fail-under)"),
}


def label(key: str, lang: str) -> str:
    """The label for ``key``; unknown keys are shown as they are (codes stay readable)."""
    pair = _LABELS.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "zh" else pair[0]


def why_label(why: str, lang: str) -> str:
    """``fault:blur`` → ``fault: blur`` in the language."""
    if why.startswith("fault:"):
        return f"{label('fault', lang)}: {label(why.split(':', 1)[1], lang)}"
    return label(why, lang)
