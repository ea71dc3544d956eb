"""Regenerate the public GS1 vector files from their upstream test sources (data only).

    python tests/unit/drivers/scanner/vectors/extract_vectors.py GS1_SYNTAX_ENGINE_CHECKOUT BIIP_CHECKOUT

Reads the inputs and expected verdicts of gs1/gs1-syntax-engine's C unit tests and of jodal/biip's
pytest parametrizations, and writes them as JSON next to this script. No upstream code is kept:
only the strings under test, whether upstream accepts them, and the source line for reference.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
_C_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
# Macro name in the C tests -> (our vector set, what it checks, index of the input argument).
_C_MACROS = {
    "test_testProcessScanData": ("scan_data", "scan", 1),
    "test_parseAIdata": ("bracketed_ai_data", "syntax", 1),
    "test_processAIdata": ("raw_ai_data", "syntax", 1),
    "test_parseDLuri": ("digital_link", "scan", 1),
}
_VALIDATORS = {
    "validateAIrepeats": "repeats",
    "validateAImutex": "pairing",
    "validateAIrequisites": "pairing",
    "validateDigSigRequiresSerialisedKey": "digsig",
}


def _git_show(checkout: Path, path: str) -> tuple[str, str]:
    commit = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    text = subprocess.run(
        ["git", "-C", str(checkout), "show", f"HEAD:{path}"], check=True, capture_output=True, text=True
    ).stdout
    return commit, text


def _c_literal(source: str) -> str:
    """Adjacent C string literals, concatenated and unescaped ("\\x1D" -> GS)."""
    parts = _C_STRING.findall(source)
    return "".join(p.encode("latin-1").decode("unicode_escape") for p in parts)


def _c_calls(text: str, name: str) -> list[tuple[int, list[str]]]:
    """(line, top-level arguments) of every ``name(...)`` call, comments and macro bodies skipped."""
    calls = []
    for match in re.finditer(rf"(?<![\w#])\b{name}\(", text):
        line_start = text.rfind("\n", 0, match.start()) + 1
        if text[line_start : match.start()].lstrip().startswith("#define"):
            continue
        args, depth, pos, current, in_string = [], 1, match.end(), [], False
        while depth:
            ch = text[pos]
            if in_string:
                current.append(ch)
                if ch == "\\":
                    current.append(text[pos + 1])
                    pos += 1
                elif ch == '"':
                    in_string = False
            elif ch == '"':
                in_string = True
                current.append(ch)
            elif text.startswith("//", pos):
                pos = text.find("\n", pos) - 1
            elif ch in "(":
                depth += 1
                current.append(ch)
            elif ch == ")":
                depth -= 1
                if depth:
                    current.append(ch)
            elif ch == "," and depth == 1:
                args.append("".join(current).strip())
                current = []
            else:
                current.append(ch)
            pos += 1
        args.append("".join(current).strip())
        calls.append((text.count("\n", 0, match.start()) + 1, args))
    return calls


_OPTION = re.compile(
    r"gs1_encoder_set(\w+)\(ctx, (?:(\w+), )?(true|false)\)"
    r"|ctx->(\w+) = (true|false)"
    r"|gs1_encoder_(free)\(ctx\)"
)


def _options_at(text: str) -> list[tuple[int, frozenset[str]]]:
    """(position, upstream options away from their defaults from there on). Vectors run under such
    an option test a mode we do not offer (unknown AIs allowed, zero-suppressed GTINs in links…)."""
    changes: list[tuple[int, frozenset[str]]] = [(0, frozenset())]
    active: set[str] = set()
    for match in _OPTION.finditer(text):
        setter, validation, setter_value, field, field_value, free = match.groups()
        if free:
            active.clear()
        elif setter == "ValidationEnabled":
            (active.add if setter_value == "false" else active.discard)(f"validation {validation} off")
        elif setter:
            (active.add if setter_value == "true" else active.discard)(setter)
        else:
            (active.add if field_value == "true" else active.discard)(field)
        changes.append((match.start(), frozenset(active)))
    return changes


def _options_for(changes: list[tuple[int, frozenset[str]]], line: int, text: str) -> list[str]:
    position = sum(len(row) + 1 for row in text.split("\n")[: line - 1])
    current: frozenset[str] = frozenset()
    for start, options in changes:
        if start > position:
            break
        current = options
    return sorted(current)


def syntax_engine_vectors(checkout: Path) -> dict[str, Any]:
    vectors: list[dict[str, Any]] = []
    commit = ""
    for path in ("src/c-lib/scandata.c", "src/c-lib/ai.c", "src/c-lib/dl.c"):
        commit, text = _git_show(checkout, path)
        options = _options_at(text)
        found: list[dict[str, Any]] = []
        for macro, (vector_set, check, index) in _C_MACROS.items():
            for line, args in _c_calls(text, macro):
                if len(args) <= index or '"' not in args[index]:
                    continue  # built in a loop from a buffer: not a literal vector
                expect = "ok" if args[0] == "true" else "fail"
                found.append(_vector(vector_set, check, _c_literal(args[index]), expect, f"{path}:{line}"))
        for line, args in _c_calls(text, "test_validateAIs"):
            expect = "ok" if args[0] == "true" else "fail"
            check = _VALIDATORS[args[1]]
            found.append(_vector("ai_associations", check, _c_literal(args[2]), expect, f"{path}:{line}"))
        for vector in found:
            upstream_options = _options_for(options, int(vector["source"].rsplit(":", 1)[1]), text)
            if upstream_options:
                vector["upstream_options"] = upstream_options
        vectors.extend(found)
        for match in re.finditer(r'\{ ("(?:[^"\\]|\\.)*"),\s+(GS1_LINTER_\w+) \}', text):
            line = text.count("\n", 0, match.start()) + 1
            expect = "ok" if match.group(2) == "GS1_LINTER_OK" else "fail"
            vector = _vector("linters", "syntax", _c_literal(match.group(1)), expect, f"{path}:{line}")
            vector["upstream_error"] = match.group(2)
            vectors.append(vector)
    return {"source": f"https://github.com/gs1/gs1-syntax-engine at {commit}", "vectors": vectors}


def _vector(vector_set: str, check: str, data: str, expect: str, where: str) -> dict[str, Any]:
    return {"set": vector_set, "check": check, "input": data, "expect": expect, "source": where}


# biip test function -> (our vector set, expected verdict, how to read the expected HRI if any).
_BIIP_TESTS = {
    "tests/test_gs1_messages.py": {
        "test_parse": ("message", "ok"),
        "test_parse_with_separator_char": ("message", "ok"),
        "test_parse_fails_if_unparsed_data_left": ("message", "fail"),
        "test_parse_ignores_redundant_separator_chars": ("message", "ok"),
        "test_parse_hri": ("hri", "ok"),
        "test_parse_hri_fails_if_not_starting_with_parenthesis": ("hri", "fail"),
        "test_parse_hri_fails_if_no_pattern_matches": ("hri", "fail"),
        "test_parse_hri_fails_if_ai_is_unknown": ("hri", "fail"),
        "test_as_hri": ("message", "ok"),
    },
    "tests/test_gs1_element_strings.py": {
        "test_extract": ("element", "ok"),
        "test_extract_fails_when_not_matching_pattern": ("element", "fail"),
        "test_extract_fails_with_invalid_date": ("element", "fail"),
        "test_extract_handles_zero_day_as_last_day_of_month": ("element", "ok"),
    },
    "tests/test_gs1_digital_link_uris.py": {
        "test_parse": ("digital_link", "ok"),
        "test_parse_error": ("digital_link", "fail"),
    },
}


def _case_strings(case: ast.expr) -> list[Any]:
    elements = case.elts if isinstance(case, ast.Tuple) else [case]
    return [e.value if isinstance(e, ast.Constant) else e for e in elements]


def biip_vectors(checkout: Path) -> dict[str, Any]:
    vectors: list[dict[str, Any]] = []
    commit = ""
    for path, tests in _BIIP_TESTS.items():
        commit, text = _git_show(checkout, path)
        for node in ast.parse(text).body:
            if not isinstance(node, ast.FunctionDef) or node.name not in tests:
                continue
            vector_set, expect = tests[node.name]
            for decorator in node.decorator_list:
                if not (isinstance(decorator, ast.Call) and len(decorator.args) == 2):
                    continue
                names = ast.literal_eval(decorator.args[0])
                names = [names] if isinstance(names, str) else list(names)
                cases = decorator.args[1]
                assert isinstance(cases, ast.List)
                for case in cases.elts:
                    values = dict(zip(names, _case_strings(case), strict=True))
                    vectors.append(_biip_vector(vector_set, expect, values, f"{path}:{case.lineno}"))
    return {"source": f"https://github.com/jodal/biip at {commit}", "vectors": vectors}


def _biip_vector(vector_set: str, expect: str, values: dict[str, Any], where: str) -> dict[str, Any]:
    separators = values.get("separator_chars")
    if isinstance(separators, ast.Tuple):
        separators = [e.value for e in separators.elts if isinstance(e, ast.Constant)]
    data = values.get("value")
    if data is None:  # element tests name the AI and the value apart
        data = values["ai_code"] + values["bad_value"]
    vector = _vector(vector_set, "syntax", data, expect, where)
    hri = values.get("expected_hri", values.get("expected"))
    if isinstance(hri, str) and hri.startswith("("):
        vector["hri"] = hri
    if separators and separators != ["\x1d"]:
        vector["separators"] = separators  # biip's configurable separators: not a scanner's GS
    return vector


def main() -> None:
    engine, biip = Path(sys.argv[1]), Path(sys.argv[2])
    for name, data in (("gs1_syntax_engine", syntax_engine_vectors(engine)), ("biip", biip_vectors(biip))):
        (HERE / f"{name}.json").write_text(json.dumps(data, indent=1, ensure_ascii=True) + "\n")
        print(name, len(data["vectors"]))


if __name__ == "__main__":
    main()
