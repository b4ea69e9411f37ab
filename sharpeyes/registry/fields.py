"""Checks of single registry values (ids, URLs, hosts, GB/T 28181 ids) and a row reader that collects problems.

Every problem is one line ``file:line: column: problem (allowed: …)``. Values are never echoed when they may
hold a credential: URLs are shown redacted, passwords never.
"""

from __future__ import annotations

import ipaddress
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urlsplit

ID_RE = re.compile(r"^\w[\w.:-]{0,127}$")
CODE_RE = re.compile(r"^\w[\w.-]{0,31}$")
SLUG_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)
RESOLUTION_RE = re.compile(r"^(\d{2,5})\s*[xX×*]\s*(\d{2,5})$")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")

POINT_CLASSES = ("一类", "二类", "三类")
TRUE_WORDS = frozenset({"true", "yes", "1", "y", "是"})
FALSE_WORDS = frozenset({"false", "no", "0", "n", "否"})
RTSP_SCHEMES = ("rtsp", "rtsps")
HTTP_SCHEMES = ("http", "https")
# GB/T 2260 province-level codes (first two digits of an administrative code).
PROVINCES = frozenset(
    f"{n}" for n in (11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46)
) | frozenset(f"{n}" for n in (50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82))


_LOOK_ALIKES = str.maketrans(
    {
        # Cyrillic letters (casefolded) that are drawn like a Latin letter in common fonts (after Unicode TR39)
        "а": "a", "в": "b", "е": "e", "ԁ": "d", "һ": "h", "н": "h", "і": "i", "ј": "j", "к": "k", "ӏ": "l",
        "м": "m", "о": "o", "р": "p", "ԛ": "q", "ѕ": "s", "т": "t", "с": "c", "у": "y", "ү": "y", "ԝ": "w",
        "х": "x",
        # Greek (casefolded; capitals decide: Η looks like H, Ν like N, Μ like M)
        "α": "a", "β": "b", "ϲ": "c", "ε": "e", "ζ": "z", "η": "h", "ι": "i", "ϳ": "j", "κ": "k", "μ": "m",
        "ν": "n", "ο": "o", "ρ": "p", "τ": "t", "υ": "y", "χ": "x",
    }
)  # fmt: skip
"""Cyrillic and Greek letters folded to the Latin letter they are mistaken for, so that ``cam-1`` and
``сам-1`` (all Cyrillic) are one id. Mixed-script ids are refused outright (:func:`mixed_script_problem`)."""

_IDEOGRAPHIC = frozenset({"CJK", "HIRAGANA", "KATAKANA", "HANGUL", "BOPOMOFO", "IDEOGRAPHIC"})
"""Scripts that may be mixed with one alphabet in an id (``东门-cam1``, as UTS #39's highly restrictive level)."""


def id_key(value: str) -> str:
    """The form two ids are compared in: ``' CAM-1 '``, ``'cam-1'``, full-width ``'ＣＡＭ－１'`` and the look-alike
    ``'сам-1'`` (Cyrillic) are one id: NFKC, stripped, casefolded, Cyrillic and Greek look-alikes made Latin."""
    return unicodedata.normalize("NFKC", value).strip().casefold().translate(_LOOK_ALIKES)


def _script(char: str) -> str:
    """The script of a letter, from its Unicode name (``LATIN``, ``CYRILLIC``, ``GREEK``, ``CJK`` …)."""
    return unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]


def mixed_script_problem(value: str) -> str | None:
    """Why an id is refused for mixing alphabets (Latin with Cyrillic or Greek …): it is then a look-alike of
    another id (``саm-1``, with Cyrillic с and а, reads as ``cam-1``). Han, kana and Hangul may join one alphabet."""
    letters = [c for c in unicodedata.normalize("NFKC", value) if c.isalpha()]
    alphabets: dict[str, str] = {}
    for char in letters:
        script = _script(char)
        if script not in _IDEOGRAPHIC:
            alphabets.setdefault(script, char)
    if len(alphabets) < 2:
        return None
    foreign = [
        f"{c} U+{ord(c):04X} {unicodedata.name(c, '?')}"
        for c in dict.fromkeys(letters)
        if _script(c) not in ("LATIN", *_IDEOGRAPHIC)
    ][:3]
    names = " and ".join(sorted(s.title() for s in alphabets))
    folded = id_key(value)
    reads_as = f", reads as {folded!r}" if folded != unicodedata.normalize("NFKC", value).strip().casefold() else ""
    return (
        f"{_shown(value)} mixes {names} letters ({'; '.join(foreign)}){reads_as}; retype it in one alphabet "
        "(allowed: letters of one script, optionally with Han/kana/Hangul, digits, _ . : -)"
    )


@dataclass(frozen=True, slots=True)
class Where:
    """Where a record came from: a file and line (``line=0``: the database), and per-field lines if known."""

    file: str
    line: int = 0
    field_lines: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    def at(self, column: str, problem: str) -> str:
        line = self.field_lines.get(column, self.line)
        column = printable(column)
        return f"{self.file}:{line}: {column}: {problem}" if line else f"{self.file}: {column}: {problem}"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


IN_DATABASE = Where("(database)")


def printable(name: str) -> str:
    """A column or key name safe to print on one line."""
    return name if name.isprintable() and len(name) <= 64 else repr(name[:64])


def _shown(value: str) -> str:
    text = value if len(value) <= 60 else value[:57] + "..."
    return repr(text)


class RowReader:
    """Reads typed values from one input row; each bad value adds a problem and yields ``None``."""

    def __init__(self, values: Mapping[str, object], where: Where, problems: list[str]) -> None:
        self.values = values
        self.where = where
        self.problems = problems
        self.failed = False

    def problem(self, column: str, text: str) -> None:
        self.failed = True
        self.problems.append(self.where.at(column, text))

    def raw(self, column: str) -> str:
        """The cell as stripped text ('' when absent or empty)."""
        value = self.values.get(column)
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float | str):
            return str(value).strip()
        self.problem(column, f"expected a single value, got a {type(value).__name__}")
        return ""

    def text(self, column: str, *, required: bool = False, max_len: int = 200) -> str | None:
        value = self.raw(column)
        if not value:
            if required:
                self.problem(column, "required, but empty")
            return None
        if CONTROL_RE.search(value):
            self.problem(column, "contains control characters (allowed: printable text)")
            return None
        if len(value) > max_len:
            self.problem(column, f"longer than {max_len} characters")
            return None
        return value

    def matching(self, column: str, pattern: re.Pattern[str], allowed: str, *, required: bool) -> str | None:
        value = self.text(column, required=required, max_len=1024)
        if value is not None and not pattern.match(value):
            self.problem(column, f"{_shown(value)} is not valid (allowed: {allowed})")
            return None
        return value

    def ident(self, column: str) -> str | None:
        value = self.matching(column, ID_RE, "letters, digits, _ . : - ; at most 128; no / or spaces", required=True)
        problem = mixed_script_problem(value) if value is not None else None
        if problem:
            self.problem(column, problem)
            return None
        return value

    def choice(self, column: str, allowed: Iterable[str], default: str | None = None) -> str | None:
        options = tuple(allowed)
        value = self.raw(column)
        if not value:
            if default is None:
                self.problem(column, f"required, but empty (allowed: {', '.join(options)})")
            return default
        if value not in options:
            lowered = value.lower()
            if lowered in options:
                return lowered
            self.problem(column, f"{_shown(value)} is not allowed (allowed: {', '.join(options)})")
            return None
        return value

    def integer(self, column: str, *, default: int | None, minimum: int, maximum: int) -> int | None:
        value = self.raw(column)
        if not value:
            if default is None:
                self.problem(column, f"required, but empty (allowed: an integer {minimum}–{maximum})")
            return default
        try:
            number = int(value)
        except ValueError:
            self.problem(column, f"{_shown(value)} is not an integer (allowed: {minimum}–{maximum})")
            return None
        if not minimum <= number <= maximum:
            self.problem(column, f"{number} is out of range (allowed: {minimum}–{maximum})")
            return None
        return number

    def number(self, column: str, *, minimum: float, maximum: float) -> float | None:
        value = self.raw(column)
        if not value:
            return None
        try:
            number = float(value)
        except ValueError:
            self.problem(column, f"{_shown(value)} is not a number (allowed: {minimum}–{maximum})")
            return None
        if not (math.isfinite(number) and minimum <= number <= maximum):
            self.problem(column, f"{value} is out of range (allowed: {minimum}–{maximum})")
            return None
        return number

    def boolean(self, column: str, *, default: bool) -> bool:
        value = self.raw(column).lower()
        if not value:
            return default
        if value in TRUE_WORDS:
            return True
        if value in FALSE_WORDS:
            return False
        self.problem(column, f"{_shown(value)} is not a yes/no value (allowed: true, false, yes, no, 1, 0)")
        return default

    def host(self, column: str) -> str | None:
        value = self.text(column, required=True, max_len=255)
        if value is None:
            return None
        problem = host_problem(value)
        if problem:
            self.problem(column, problem)
            return None
        return value

    def url(self, column: str, schemes: tuple[str, ...], host: str | None) -> str | None:
        value = self.text(column, max_len=2048)
        if value is None:
            return None
        problem = url_problem(value, schemes, host)
        if problem:
            self.problem(column, problem)
            return None
        return value

    def resolution(self, column: str) -> tuple[int | None, int | None]:
        value = self.raw(column)
        if not value:
            return None, None
        match = RESOLUTION_RE.match(value)
        if not match:
            self.problem(column, f"{_shown(value)} is not a resolution (allowed: WIDTHxHEIGHT, e.g. 1920x1080)")
            return None, None
        return int(match.group(1)), int(match.group(2))

    def tags(self, column: str) -> tuple[str, ...]:
        value = self.values.get(column)
        items: list[str]
        if isinstance(value, list):
            items = [str(v).strip() for v in value if v is not None]
        else:
            items = [part.strip() for part in self.raw(column).split(";")]
        tags = tuple(dict.fromkeys(t for t in items if t))
        for tag in tags:
            if CONTROL_RE.search(tag) or ";" in tag or len(tag) > 64:
                self.problem(column, f"tag {_shown(tag)} is not valid (allowed: up to 64 characters, no ;)")
                return ()
        if len(tags) > 32:
            self.problem(column, f"{len(tags)} tags (allowed: at most 32)")
            return ()
        return tags


def host_problem(value: str) -> str | None:
    """Why a host is not a bare host name or IP literal (no scheme, port, path or credentials)."""
    candidate = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    try:
        ipaddress.ip_address(candidate)
        return None
    except ValueError:
        pass
    if HOSTNAME_RE.match(value) and not value.replace(".", "").isdigit():
        return None
    shown = "the value" if "@" in value else _shown(value)
    return f"{shown} is not a host name or IP address (allowed: e.g. 10.1.2.3, cam1.example)"


def _same_host(a: str, b: str) -> bool:
    strip = "[]"
    return a.strip(strip).lower().rstrip(".") == b.strip(strip).lower().rstrip(".")


def url_problem(value: str, schemes: tuple[str, ...], host: str | None) -> str | None:
    """Why a camera URL is refused: scheme not allowed, credentials inside, bad port, or another host."""
    if "@" in value:  # never echo it: an unencoded password can defeat any attempt to redact it
        return "credentials in a URL are refused (allowed: username and password_env/password_file in their columns)"
    shown = _shown(value)
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return f"{shown} is not a valid URL (allowed: {'/'.join(schemes)}://HOST[:PORT]/PATH)"
    if parts.scheme.lower() not in schemes:
        return f"{shown}: scheme {parts.scheme or '(none)'!r} is not allowed (allowed: {', '.join(schemes)})"
    if not parts.hostname:
        return f"{shown} has no host (allowed: {schemes[0]}://HOST[:PORT]/PATH)"
    if port == 0:
        return f"{shown}: port 0 (allowed: 1–65535)"
    if host is not None and not _same_host(parts.hostname, host):
        return f"{shown}: host {parts.hostname!r} differs from the camera's host {host!r} (allowed: the same host)"
    return None


def is_gb_id(value: str) -> bool:
    """True for a 20-digit GB/T 28181 device id (other ids are free ids)."""
    return len(value) == 20 and value.isascii() and value.isdigit()


def gb_id_problem(value: str, allowed_prefixes: Iterable[str]) -> str | None:
    """Why a 20-digit id is not a valid camera id under GB/T 28181 for an area with these district codes.

    Layout (GB/T 28181-2016 Annex D): centre code (6-digit GB/T 2260 administrative code + 2-digit base unit),
    2-digit industry code, 3-digit type code (front-end devices 111–199: 131 camera, 132 network camera),
    1-digit network flag and a 6-digit serial number.
    """
    prefixes = sorted(set(allowed_prefixes))
    if value[:2] not in PROVINCES:
        return f"GB/T 28181 id {value}: {value[:2]} is not a province code (allowed: GB/T 2260 codes 11–82)"
    type_code = int(value[10:13])
    if not 111 <= type_code <= 199:
        return (
            f"GB/T 28181 id {value}: type code {value[10:13]} is not a front-end device "
            "(allowed: 111–199, e.g. 131 camera, 132 network camera)"
        )
    if value[:6] not in prefixes:
        allowed = ", ".join(prefixes) if prefixes else "a 6-digit district code in the area's district tree"
        return (
            f"GB/T 28181 id {value}: administrative code {value[:6]} does not match the area's district "
            f"or its ancestors (allowed: {allowed})"
        )
    return None


def admin_prefixes(codes: Iterable[str]) -> set[str]:
    """The 6-digit administrative codes a district chain stands for (longer codes extend their county's)."""
    return {code[:6] for code in codes if len(code) >= 6 and code[:6].isascii() and code[:6].isdigit()}
