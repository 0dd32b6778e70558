"""Safe reading of user files and safe writing of reports.

Reading: only regular files (a FIFO, a device or a directory is refused before it is opened for
reading), at most :data:`MAX_FILE_BYTES`, UTF-8. YAML and JSON are checked before any work is done on
them: nesting depth, number of aliases, the size of the document once aliases are expanded, and
duplicate mapping keys (refused, never "last one wins"). YAML is always loaded with the safe loader.

Writing: every report is rendered first, then written to a temporary file beside its target and
renamed into place, all targets together (:func:`write_all`): a failure leaves no target changed.
An existing symbolic link at a target is refused unless ``force`` is given (then the link itself is
replaced, never the file it points to); a missing output directory is created.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from flopbill.errors import InputError

#: Largest scenario, model or config file read (bytes).
MAX_FILE_BYTES = 4_000_000
#: Largest data file (CSV of request lengths) read (bytes).
MAX_DATA_FILE_BYTES = 64_000_000
#: Deepest nesting of mappings and lists in a YAML or JSON document (after aliases).
MAX_DEPTH = 32
#: Most aliases (``*name``) in one YAML document.
MAX_ALIASES = 1_000
#: Most nodes (scalars, lists, mappings) in a document once every alias is expanded.
MAX_NODES = 500_000
#: Longest path accepted (characters); longer ones are refused before the file system is asked.
MAX_PATH_CHARS = 4_096


class DocumentError(InputError):
    """A file is unreadable, too big, too deep, or not well-formed: names the file and the line."""

    def __init__(self, source: str, line: int | None, problem: str) -> None:
        self.source = source
        self.line = line
        self.problem = problem
        super().__init__(source, problem, "")
        where = f"{source} line {line}" if line is not None else source
        self.args = (f"{where}: {problem}",)

    def __str__(self) -> str:
        return str(self.args[0])


def check_path(path: Path | str, field: str) -> Path:
    """Return ``path`` as a Path if its text is a usable path (not empty, no NUL, not too long)."""
    text = os.fspath(path)
    if not text or "\0" in text or len(text) > MAX_PATH_CHARS:
        shown = text if len(text) <= 80 else text[:60] + f"... ({len(text):,} characters)"
        raise InputError(field, shown, f"a file path of at most {MAX_PATH_CHARS:,} characters")
    return Path(text)


def _shown(path: Path) -> str:
    text = str(path)
    return text if len(text) <= 120 else text[:100] + f"... ({len(text):,} characters)"


def read_text(path: Path | str, field: str, max_bytes: int = MAX_FILE_BYTES) -> str:
    """Return the UTF-8 text of the regular file at ``path`` (at most ``max_bytes``)."""
    p = check_path(path, field)
    try:
        info = p.stat()
    except OSError as exc:
        raise InputError(field, _shown(p), f"an existing, readable file ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(field, _shown(p), "a regular file (not a directory, FIFO or device)")
    if info.st_size > max_bytes:
        raise InputError(field, _shown(p), f"a file of at most {max_bytes:,} bytes ({info.st_size:,})")
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):  # replaced since stat()
                raise InputError(field, _shown(p), "a regular file (not a directory, FIFO or device)")
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(field, _shown(p), f"a readable file ({exc.strerror})") from None
    if len(data) > max_bytes:
        raise InputError(field, _shown(p), f"a file of at most {max_bytes:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(field, _shown(p), f"a UTF-8 text file (byte {exc.start} is not UTF-8)") from None


class _Loader(yaml.SafeLoader):
    """The safe loader (plain data only); kept as a subclass so its configuration stays local."""


def _line(event: yaml.Event) -> int | None:
    mark = event.start_mark
    return mark.line + 1 if mark is not None else None


def _prescan(text: str, source: str) -> None:
    """Refuse YAML nested deeper than :data:`MAX_DEPTH` or with more than :data:`MAX_ALIASES` aliases.

    Uses the event stream (PyYAML's parser is not recursive), so a 5,000-deep document is refused
    before the (recursive) composer sees it.
    """
    depth = aliases = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise DocumentError(source, _line(event), f"nested deeper than {MAX_DEPTH} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise DocumentError(source, _line(event), f"more than {MAX_ALIASES} aliases")


def _check_tree(root: yaml.Node, source: str) -> None:
    """Refuse duplicate keys, recursive aliases, and documents over :data:`MAX_NODES` expanded nodes."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node, depth: int) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        line = node.start_mark.line + 1
        if key in active:
            raise DocumentError(source, line, "an alias refers to the node that contains it")
        if depth > MAX_DEPTH:
            raise DocumentError(source, line, f"nested deeper than {MAX_DEPTH} levels (after aliases)")
        active.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            seen: set[tuple[str, str]] = set()
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value != "<<":
                    ident = (k.tag, k.value)
                    if ident in seen:
                        raise DocumentError(source, k.start_mark.line + 1, f"duplicate key {k.value!r}")
                    seen.add(ident)
                total += size(k, depth + 1) + size(v, depth + 1)
        elif isinstance(node, yaml.SequenceNode):
            total += sum(size(item, depth + 1) for item in node.value)
        active.discard(key)
        if total > MAX_NODES:
            raise DocumentError(source, line, f"expands to more than {MAX_NODES:,} values (aliases)")
        sizes[key] = total
        return total

    size(root, 0)


def _yaml_error(exc: yaml.YAMLError, source: str) -> DocumentError:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return DocumentError(source, line, f"not valid YAML ({problem})")


def load_yaml(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    """Return the data in the YAML ``text`` and its composed node tree (for line numbers).

    Raises :class:`DocumentError` (with the line) for malformed YAML or any limit exceeded.
    """
    if len(text) > MAX_FILE_BYTES:
        raise DocumentError(source, None, f"more than {MAX_FILE_BYTES:,} characters")
    try:
        _prescan(text, source)
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            if root is None:
                return None, None
            _check_tree(root, source)
            return loader.construct_document(root), root
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, source) from None
    except RecursionError:
        raise DocumentError(source, None, f"nested deeper than {MAX_DEPTH} levels") from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _json_depth(data: Any) -> int:
    """Return the nesting depth of parsed JSON (iteratively: no recursion limit involved)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, depth + 1) for c in children)
    return deepest


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a finite number")


def load_json(text: str, source: str) -> Any:
    """Return the data in the JSON ``text``: duplicate keys, NaN/Infinity and deep nesting refused."""
    if len(text) > MAX_FILE_BYTES:
        raise DocumentError(source, None, f"more than {MAX_FILE_BYTES:,} characters")
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise DocumentError(source, exc.lineno, f"not valid JSON ({exc.msg})") from None
    except ValueError as exc:
        raise DocumentError(source, None, f"not valid JSON ({exc})") from None
    except RecursionError:
        raise DocumentError(source, None, f"nested deeper than {MAX_DEPTH} levels") from None
    if _json_depth(data) > MAX_DEPTH:
        raise DocumentError(source, None, f"nested deeper than {MAX_DEPTH} levels")
    return data


def check_target(path: Path, field: str, force: bool = False) -> Path:
    """Return ``path`` if a report may be written there: not a directory, not a symlink (unless
    ``force``), its parent a directory or creatable, its name within the file system's limit."""
    p = check_path(path, field)
    if len(p.name.encode("utf-8", "surrogateescape")) > 255:
        raise InputError(field, _shown(p), "a file name of at most 255 bytes")
    if p.is_symlink() and not force:
        raise InputError(field, _shown(p), "a path that is not a symbolic link (or pass --force)")
    if p.is_dir() and not p.is_symlink():
        raise InputError(field, _shown(p), "a file path, not a directory")
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(field, _shown(p), f"a path whose parent {parent} is a directory")
            break
    return p


def write_all(outputs: Sequence[tuple[Path, str]], field: str, force: bool = False) -> None:
    """Write every ``(path, text)`` all or nothing: temporary files first, then one rename each.

    Missing parent directories are created. On any failure before the renames no target has changed.
    """
    targets = [check_target(p, field, force) for p, _ in outputs]
    written: list[tuple[str, Path]] = []
    try:
        for target, (_, text) in zip(targets, outputs, strict=True):
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".flopbill.", suffix=".tmp", dir=target.parent)
            written.append((tmp, target))
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
        for tmp, target in written:
            os.replace(tmp, target)  # replaces a link itself, never the file it points to
    except OSError as exc:
        for tmp, _ in written:
            Path(tmp).unlink(missing_ok=True)
        bad = _shown(targets[len(written) - 1] if written else targets[0])
        raise InputError(field, bad, f"a writable location ({exc.strerror or exc})") from None
    except BaseException:
        for tmp, _ in written:
            Path(tmp).unlink(missing_ok=True)
        raise


__all__ = [
    "MAX_ALIASES",
    "MAX_DATA_FILE_BYTES",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "MAX_PATH_CHARS",
    "DocumentError",
    "check_path",
    "check_target",
    "load_json",
    "load_yaml",
    "read_text",
    "write_all",
]
