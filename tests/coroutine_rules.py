#!/usr/bin/env python3
"""The GCC 12 coroutine rules (docs/development.md, "GCC 12 coroutines") as a test.

GCC 12 miscompiles some coroutine forms (double frees, SIGILL). Each
`co_await` in src/ is checked where it stands:

  1. not inside ?: or && / || (its statement has none of them);
  2. not the initializer of a structured binding;
  3. its result is a named variable, an assignment, a co_return, or the
     whole condition of an if/while (`if (co_await …)`, `if (!co_await …)`);
     a statement of its own only when the awaited function returns void;
  4. no capturing lambda (but [this] and by-reference captures) and no
     temporary of a class type (fmt::format, std::string(…), std::to_string,
     string concatenation, `type{…}`) in the statement.

The helpers in src/net/coro.hpp make the forbidden forms unnecessary. The
scan works on the source text with comments and string literals blanked out,
so it needs no compiler; what it cannot decide (a template's result type) it
lets through.
"""
import re
import sys
from pathlib import Path

src = Path(sys.argv[1] if len(sys.argv) > 1 else "src")


def blank(text):
    """Comments and the insides of string and character literals replaced by
    spaces (newlines kept), so offsets and line numbers stay."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith('R"', i) and re.match(r'R"([^(\s]*)\(', text[i:]):
            delim = re.match(r'R"([^(\s]*)\(', text[i:]).group(1)
            end = text.find(")" + delim + '"', i)
            end = n if end < 0 else end + len(delim) + 2
            out.append('""' + re.sub(r"[^\n]", " ", text[i + 2:end]))
            i = end
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + " " * (j - i - 1) + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def statement_bounds(text, pos):
    """The statement around pos: from the last ; { } before it (outside
    parentheses) to the next ; { } after it (outside parentheses)."""
    depth, i = 0, pos - 1
    while i >= 0:
        ch = text[i]
        if ch == ")":
            depth += 1
        elif ch == "(":
            if depth == 0:
                pass  # inside a condition: keep going to the statement start
            else:
                depth -= 1
        elif ch in ";{}" and depth <= 0:
            break
        i -= 1
    start = i + 1
    depth, j = 0, pos
    while j < len(text):
        ch = text[j]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch in ";{}" and depth <= 0:
            break
        j += 1
    return start, j


def after_header(text, start, pos):
    """When the co_await is the body of an if/while/for (`if (x && y) co_await f();`),
    the statement starts after the header's closing parenthesis."""
    m = re.match(r"\s*(?:else\s+)?(?:if|while|for)\s*\(", text[start:pos])
    if not m:
        return start
    depth, i = 1, start + m.end()
    while i < pos and depth:
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        i += 1
    return i if depth == 0 else start


AWAITABLE_DECL = re.compile(r"awaitable<\s*((?:[^<>;{}]|<(?:[^<>]|<[^<>]*>)*>)*?)\s*>\s+(?:[\w:]+::)?(\w+)\s*\(")
UNKNOWN_RESULT = re.compile(r"\b(invoke_result|T|R|decltype)\b")
LAMBDA = re.compile(r"(?:^|[(,=\s])\[([^\[\]]*)\]\s*(?:\(|\{|->|mutable)")
TEMPORARY = re.compile(r'fmt::format\(|std::string\(|std::to_string\(|""\s*\+|\+\s*""')
# A braced temporary of a named type among an awaited call's arguments:
# `f(std::move(v), settings{a, b})` (a by-value coroutine parameter built in
# place freed a foreign pointer in a GCC 12 build).
BRACED = re.compile(r"(?<![\w\]])([A-Za-z_][\w:]*)(?:<[^<>;]*>)?\s*\{")
SAFE_CAPTURE = re.compile(r"^\s*(this|&|&\s*\w+)\s*$")
CONDITION = re.compile(r"\b(if|while)\s*\(\s*!?\s*$")
ASSIGN = re.compile(r"(?<![=!<>+\-*/%&|^])=\s*$")


def string_functions(files):
    """Functions that return a std::string by value: a call to one in the
    arguments of an awaited call is a temporary of a class type."""
    names = set()
    for text in files.values():
        names.update(re.findall(r"(?<![\w:<&*])std::string\s+(?:[\w:]+::)?(\w+)\s*\(", text))
    return names - {"operator"}


def awaitable_functions(files):
    non_void, void = set(), set()
    for text in files.values():
        for m in AWAITABLE_DECL.finditer(text):
            result, name = m.group(1).strip(), m.group(2)
            if result in ("", "void"):
                void.add(name)
            elif not UNKNOWN_RESULT.search(result):
                non_void.add(name)
    return non_void - void


def check(path, text, non_void, string_fns):
    errors = []
    for m in re.finditer(r"\bco_await\b", text):
        pos = m.start()
        if re.match(r"co_await\s+(?:\w+::)*this_coro::executor", text[pos:]):
            continue  # Asio's executor query, not an operation
        start, end = statement_bounds(text, pos)
        start = after_header(text, start, pos)
        stmt = text[start:end]
        before = text[start:pos].strip()
        after = text[m.end():end]
        line = text.count("\n", 0, pos) + 1
        where = f"{path}:{line}"
        flat = " ".join(stmt.split())
        if re.search(r"\s\?\s|\s&&\s|\s\|\|\s", " " + stmt + " "):
            errors.append(f"{where}: co_await in a statement with ?: or && / || (rule 1): {flat}")
        if re.search(r"auto\s*&{0,2}\s*\[[^\]]*\]\s*=\s*$", before):
            errors.append(f"{where}: structured binding of a co_await result (rule 2): {flat}")
            continue
        head = re.sub(r"^(else|do)\b", "", before).strip()
        is_statement = head == ""
        if is_statement:
            callee = re.match(r"\s*[\w:.>\-\[\]*&()]*?(\w+)\s*\(", after)
            if callee and callee.group(1) in non_void:
                errors.append(f"{where}: discarded result of co_await {callee.group(1)}() (rule 3): {flat}")
        elif not (ASSIGN.search(head) or head.endswith("co_return") or CONDITION.search(head)):
            errors.append(f"{where}: co_await result used inside an expression; name it first (rule 3): {flat}")
        for lm in LAMBDA.finditer(stmt):
            captures = [c for c in lm.group(1).split(",") if c.strip()]
            if any(not SAFE_CAPTURE.match(c) for c in captures):
                errors.append(f"{where}: capturing lambda [{lm.group(1).strip()}] in a co_await statement; "
                              f"name it first or use worker_pool::run (rule 4): {flat}")
        args = after[after.find("(") + 1:] if "(" in after else ""
        calls = [c for c in re.findall(r"\b(\w+)\s*\(", args) if c in string_fns]
        if TEMPORARY.search(after) or calls:
            errors.append(f"{where}: temporary string in a co_await expression; name it first (rule 4): {flat}")
        if BRACED.search(args) and not LAMBDA.search(stmt):  # a lambda's body is its own code
            errors.append(f"{where}: braced temporary in a co_await expression; name it first (rule 4): {flat}")
    return errors


files = {}
for f in sorted(src.rglob("*")):
    if f.suffix in {".hpp", ".cpp"}:
        files[f] = blank(f.read_text(errors="replace"))
non_void = awaitable_functions(files)
string_fns = string_functions(files)
errors = []
for f, text in files.items():
    errors += check(f.relative_to(src), text, non_void, string_fns)
if errors:
    print("\n".join(errors))
    print(f"\n{len(errors)} coroutine rule violations (docs/development.md, 'GCC 12 coroutines')")
    sys.exit(1)
print(f"coroutine rules hold ({sum(t.count('co_await') for t in files.values())} co_await checked)")
