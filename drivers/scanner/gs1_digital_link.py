"""GS1 Digital Link URIs (https://host/[prefix/]01/<gtin>/10/<lot>?17=…) split into AI elements.

biip's parser normalizes what the GS1 rules reject (a 13-digit GTIN in the path is padded to 14,
unknown or empty query AIs are dropped), which would report a broken link as a valid one. Here the
path and query are taken as written and then checked like any scanned element string.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit

from passerelle.drivers.scanner.gs1_dictionary import AIDefinition, ai_table
from passerelle.drivers.scanner.gs1_syntax import Element, ParsedMessage
from passerelle.drivers.scanner.payload import Problem

# GS1 Digital Link allows the scheme in lower or upper case, not mixed.
_SCHEMES = {"http", "https", "HTTP", "HTTPS"}


def _compatible_sequences(key: AIDefinition, qualifiers: list[str]) -> list[tuple[str, ...]]:
    """The key's allowed qualifier sequences that the path's qualifiers follow, in order, each at
    most once. Empty: the path's qualifiers are not allowed for this key."""
    compatible = []
    for sequence in key.qualifiers or ((),):
        position = 0
        for ai in qualifiers:
            if ai not in sequence[position:]:
                break
            position = sequence.index(ai, position) + 1
        else:
            compatible.append(sequence)
    return compatible


def _path_start(segments: list[str]) -> int | None:
    """Index of the primary key that starts the AI part of the path: the rightmost primary key,
    followed only by (AI, value) pairs. Anything before it is the resolver's own prefix, even if
    it looks like AIs."""
    table = ai_table()
    index = len(segments) - 2
    while index >= 0 and segments[index] in table:
        if table[segments[index]].primary_key:
            return index
        index -= 2
    return None


def split_digital_link(url: str) -> ParsedMessage | None:
    """The link's elements with the link-specific problems; None when the URL is not a digital link
    at all (no GS1 primary key in its path) and is better reported as a plain URL."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed "[" IPv6 host: not a link we can read at all
        return None
    if url.partition(":")[0] not in _SCHEMES or not parts.netloc:  # urlsplit lowercases the scheme
        return None
    segments = [unquote(s) for s in parts.path.split("/")[1:]]
    start = _path_start(segments)
    if start is None:
        return None
    table = ai_table()
    out = ParsedMessage(saw_separator=True)
    pairs = list(zip(segments[start::2], segments[start + 1 :: 2], strict=True))
    sequences = _compatible_sequences(table[pairs[0][0]], [ai for ai, _ in pairs[1:]])
    if not sequences:
        out.problems.add(Problem.INVALID_FORMAT)
    # A qualifier the path could have carried belongs in the path, not in the query.
    path_only = {ai for sequence in sequences for ai in sequence}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if not key.isdigit():
            continue  # non-AI query parameters belong to the resolver
        definition = table.get(key)
        if definition is None:
            out.problems.add(Problem.UNKNOWN_AI)
        elif not definition.digital_link_attribute or key in path_only:
            out.problems.add(Problem.INVALID_FORMAT)
        else:
            pairs.append((key, value))
    seen: set[str] = set()
    for ai, value in pairs:
        if ai in seen:
            out.problems.add(Problem.INVALID_FORMAT)  # an attribute given twice in one link
        seen.add(ai)
        out.elements.append(Element(ai, value, table[ai]))
    return out
