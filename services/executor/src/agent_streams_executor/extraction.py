"""Code blocks out of a model's markdown reply.

Fenced blocks (```` ``` ```` or ``~~~``, indented up to three spaces as in CommonMark, ``\\r\\n``
or ``\\n`` line endings, any number per message) become :class:`CodeBlock`\\ s in order. Text
with no fence yields nothing: prose is never executed. An unterminated fence (a reply cut off
mid-block) is dropped rather than run half.

Small local models mislabel: a whole script fenced as ```` ```markdown ````, or an untagged
"expected output" block after the code. So the tag decides only when it names a language we
run:

* ``python``/``py``/``python3``, ``bash``/``shell``, ``sh``: run as that language.
* a programming language we cannot run (``javascript``, ``r``, ...): kept with its tag when it is
  not Python, so that the executor answers "unsupported language" and the model learns.
* anything else (no tag, ``markdown``, ``text``, ``output``, ``json`` ...): run as Python only if
  it parses (``ast.parse``) *and* does something. A block of bare values or names (``42``,
  ``[1, 2]``, ``Done``) and annotation-only lines (``Mean: 3.5`` parses as one) are output the
  model echoed, not code: they are dropped.
"""

from __future__ import annotations

import ast
import re

from agent_streams_executor.executors.base import CodeBlock, canonical_language

__all__ = ["FOREIGN_LANGUAGES", "extract_code_blocks", "looks_like_python"]

FOREIGN_LANGUAGES = frozenset(
    {
        "c",
        "c++",
        "cpp",
        "cs",
        "csharp",
        "go",
        "golang",
        "java",
        "javascript",
        "js",
        "kotlin",
        "node",
        "perl",
        "php",
        "powershell",
        "ps1",
        "r",
        "ruby",
        "rust",
        "scala",
        "sql",
        "swift",
        "ts",
        "typescript",
    }
)

_OPEN = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n]*)$")
_INERT = (
    ast.Constant,
    ast.Name,
    ast.Attribute,
    ast.List,
    ast.Tuple,
    ast.Dict,
    ast.Set,
    ast.UnaryOp,
    ast.BinOp,
    ast.Compare,
    ast.Subscript,
    ast.Starred,
    ast.Slice,
)


def extract_code_blocks(markdown: str) -> list[CodeBlock]:
    """Every runnable fenced block of ``markdown``, in order (see the module doc for the rules)."""
    blocks: list[CodeBlock] = []
    lines = markdown.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    i = 0
    while i < len(lines):
        opening = _OPEN.match(lines[i])
        if opening is None or (opening["fence"][0] == "`" and "`" in opening["info"]):
            i += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        tag = opening["info"].strip().split(" ", 1)[0].strip("{}.").lower()
        end = _closing_line(lines, i + 1, fence)
        if end is None:
            break  # unterminated: the rest of the reply is inside this fence, never run half
        body = "\n".join(_dedent(line, indent) for line in lines[i + 1 : end])
        block = _classify(body, tag)
        if block is not None:
            blocks.append(block)
        i = end + 1
    return blocks


def looks_like_python(code: str) -> bool:
    """True when ``code`` parses as Python and does something beyond echoing values."""
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


def _classify(body: str, tag: str) -> CodeBlock | None:
    if not body.strip():
        return None
    language = canonical_language(tag)
    if language is not None:
        return CodeBlock(code=body, language=language)
    if looks_like_python(body):
        return CodeBlock(code=body, language="python")
    if tag in FOREIGN_LANGUAGES:
        return CodeBlock(code=body, language=tag)
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
