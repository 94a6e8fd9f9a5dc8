"""Code blocks out of a model's markdown reply: which fenced blocks are code to run.

One implementation for every service: the Assistant puts the blocks it finds into the
``AssistantTurn`` and the ``ExecutionRequest``, so what a follower sees is what runs.

Fenced blocks (```` ``` ```` or ``~~~``, indented up to three spaces as in CommonMark, ``\\r\\n``
or ``\\n`` line endings, any number per reply) become :class:`CodeBlockSpec`\\ s in order. Text
outside a fence is never code: prose is never executed. An unterminated fence (a reply cut off
at the token limit) is dropped rather than run half.

Small local models mislabel: a whole script fenced as ```` ```markdown ````, or an untagged
"expected output" block after the script. So the tag decides only when it names a language that
runs:

* ``python``/``py``/``python3`` -> ``python``; ``bash``/``shell`` -> ``bash``; ``sh`` -> ``sh``.
* a programming language that does not run here (``javascript``, ``r``, ...): kept with its
  tag, so that the executor answers "unsupported language" and the model learns, instead of
  silently getting nothing. (``console.log(1);`` parses as Python: the tag is trusted here.)
* anything else (no tag, ``markdown``, ``text``, ``output``, ``json`` ...): Python only if it
  parses (``ast.parse``) *and* does something. Bare values and names (``42``, ``[1, 2]``,
  ``Done``) and annotation-only lines (``Mean: 3.5`` parses as one) are echoed output: dropped.
"""

from __future__ import annotations

import ast
import re

from .messages import CodeBlockSpec

__all__ = [
    "FOREIGN_LANGUAGES",
    "canonical_language",
    "extract_code_blocks",
    "has_unterminated_fence",
    "looks_like_python",
]

FOREIGN_LANGUAGES = frozenset(
    {
        "c", "c++", "cpp", "cs", "csharp", "go", "golang", "java", "javascript", "js", "kotlin",
        "node", "perl", "php", "powershell", "ps1", "r", "ruby", "rust", "scala", "sql",
        "swift", "ts", "typescript",
    }
)  # fmt: skip

_OPEN = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n]*)$")
# Expression statements that only show a value: what a model pastes as "expected output".
_INERT = (ast.Constant, ast.Name, ast.Attribute, ast.List, ast.Tuple, ast.Dict, ast.Set,
          ast.UnaryOp, ast.BinOp, ast.Compare, ast.Subscript, ast.Starred, ast.Slice)  # fmt: skip


def canonical_language(tag: str) -> str | None:
    """``python`` / ``bash`` / ``sh`` for a tag that runs (any case), else None."""
    tag = tag.strip().lower()
    if tag in ("python", "py", "python3"):
        return "python"
    if tag in ("bash", "shell"):
        return "bash"
    if tag == "sh":
        return "sh"
    return None


def extract_code_blocks(markdown: str) -> list[CodeBlockSpec]:
    """Every block of ``markdown`` that should run, in order (rules: the module docstring)."""
    blocks: list[CodeBlockSpec] = []
    for tag, body in _fenced(_lines(markdown)):
        block = _classify(body, tag)
        if block is not None:
            blocks.append(block)
    return blocks


def has_unterminated_fence(markdown: str) -> bool:
    """True when a fence opens and never closes (typically: the reply hit the token limit)."""
    lines = _lines(markdown)
    i = 0
    while i < len(lines):
        opening = _opening(lines[i])
        if opening is None:
            i += 1
            continue
        end = _closing_line(lines, i + 1, opening["fence"])
        if end is None:
            return True
        i = end + 1
    return False


def looks_like_python(code: str) -> bool:
    """True when ``code`` parses as Python and does something beyond showing values."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, _INERT):
            continue
        if isinstance(node, ast.AnnAssign) and node.value is None:
            continue
        if isinstance(node, ast.Pass):
            continue
        return True
    return False


def _lines(markdown: str) -> list[str]:
    return markdown.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _opening(line: str) -> re.Match[str] | None:
    match = _OPEN.match(line)
    # CommonMark: a backtick fence's info string may not contain a backtick (inline code).
    if match is None or (match["fence"][0] == "`" and "`" in match["info"]):
        return None
    return match


def _fenced(lines: list[str]) -> list[tuple[str, str]]:
    """(tag, body) of every terminated fenced block, in order."""
    found: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        opening = _opening(lines[i])
        if opening is None:
            i += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        tag = opening["info"].strip().split(" ", 1)[0].strip("{}.").lower()
        end = _closing_line(lines, i + 1, fence)
        if end is None:
            break  # the rest of the reply is inside this fence: never run half a script
        found.append((tag, "\n".join(_dedent(line, indent) for line in lines[i + 1 : end])))
        i = end + 1
    return found


def _classify(body: str, tag: str) -> CodeBlockSpec | None:
    if not body.strip():
        return None
    language = canonical_language(tag)
    if language is not None:
        return CodeBlockSpec(code=body, language=language)
    if tag in FOREIGN_LANGUAGES:
        return CodeBlockSpec(code=body, language=tag)
    if looks_like_python(body):
        return CodeBlockSpec(code=body, language="python")
    return None


def _closing_line(lines: list[str], start: int, fence: str) -> int | None:
    char = fence[0]
    for j in range(start, len(lines)):
        stripped = lines[j].strip()
        if (
            len(lines[j]) - len(lines[j].lstrip(" ")) <= 3
            and len(stripped) >= len(fence)
            and stripped == char * len(stripped)
        ):
            return j
    return None


def _dedent(line: str, indent: int) -> str:
    removable = len(line) - len(line.lstrip(" "))
    return line[min(removable, indent) :]
