#!/usr/bin/env python3
"""Turns the ```cpp blocks of a Markdown file into one C++ program, so the docs cannot go stale.

    extract_snippets.py DOC.md OUTPUT.cpp

Every ```cpp block of DOC.md is compiled (tests/docs/CMakeLists.txt builds one program per
document) and, unless marked otherwise, run by the ctest `docs.<name>`. The rules a block follows:

- A block whose first line of code is an `#include` starts a new example, and so does a whole
  program (below). Any other block continues the previous compiled block of the same file: it sees
  that block's names, and sits in a nested scope, so it may declare a name again.
- `#include` lines go to file scope; the rest of a block is the body of a function
  `(int argc, char** argv)`, so statements are written as they are in `main`.
- A block that defines `int main(` is a whole program: it stays at namespace scope, its `main`
  renamed to a function that returns what it returns (nothing: 0), and the test calls it, expecting 0.
- An HTML comment on the line before the fence (invisible on GitHub) changes the defaults, e.g.
  `<!-- snippet: compile-only (needs MNIST) -->`; several markers are separated by commas, and
  words in parentheses say why (the test prints them):
    compile-only   compiled, not run: it needs a data set from scripts/setup.sh, trains for long,
                   or runs MPI ranks. An example runs only if none of its blocks is compile-only.
    declarations   the block declares things (types, templates, functions): it goes at namespace
                   scope, before the example's statements, which see its names.
    needs-mpi      compiled only where CMake builds mahpo::mpi (it gets <mahpo/study/mpi.hpp>);
                   elsewhere counted as skipped, by name.
    no-compile     shows code that must not compile (an error message): counted, not compiled.

The program checks, when it runs, that it holds as many blocks as the document now has ```cpp
fences (counted by the program itself, more loosely than here, so that a fence this script does
not recognize fails the test), and that every example it runs returns 0 without throwing.
"""

import re
import sys
from pathlib import Path

FENCE = re.compile(r"^(\s*)```\s*(cpp|c\+\+|cxx)\s*$", re.IGNORECASE)
MARKER = re.compile(r"^\s*<!--\s*snippet:\s*(.*?)\s*-->\s*$")
KNOWN = {"compile-only", "declarations", "needs-mpi", "no-compile"}
MAIN = re.compile(r"^int\s+main\s*\(")
LINE_RESET = object()


class Block:
    def __init__(self, line, code, markers, reason):
        self.line = line  # 1-based line of the block's first code line in the document
        self.code = code
        self.markers = markers
        self.reason = reason  # the marker's words in parentheses, printed by the test
        code_lines = [l for l in code if l.strip() and not l.strip().startswith("//")]
        self.starts_example = bool(code_lines) and code_lines[0].lstrip().startswith("#include")
        self.is_program = any(MAIN.match(l) for l in code)


def parse(path):
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent = len(match.group(1))
        markers, reason = set(), ""
        if i > 0 and MARKER.match(lines[i - 1]):
            text = MARKER.match(lines[i - 1]).group(1)
            reason = " ".join(re.findall(r"\((.*?)\)", text))
            markers = {m.strip() for m in re.sub(r"\(.*?\)", "", text).split(",") if m.strip()}
            unknown = markers - KNOWN
            if unknown:
                sys.exit(f"{path}:{i}: unknown snippet marker(s) {sorted(unknown)}; known: {sorted(KNOWN)}")
        start, j = i + 1, i + 1
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        if j == len(lines):
            sys.exit(f"{path}:{i + 1}: a ```cpp block that is never closed")
        code = [l[indent:] if l[:indent].strip() == "" else l for l in lines[start:j]]
        blocks.append(Block(start + 1, code, markers, reason))
        i = j + 1
    return blocks


def chains(blocks):
    """Groups the compiled blocks into examples: a block continues the previous compiled block
    unless it starts with an #include or is a whole program."""
    result = []
    for block in blocks:
        if "no-compile" in block.markers:
            continue
        if block.starts_example or block.is_program or not result:
            result.append([block])
        else:
            result[-1].append(block)
    return result


def c_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def generate(doc, blocks, output_path):
    doc_path = Path(doc).resolve().as_posix()
    out = [f"// Generated from {doc_path} by tests/docs/extract_snippets.py: edit the document, not this.",
           "#include <cstdio>", "#include <exception>", "#include <type_traits>",
           "#include <vector>"]
    includes, mpi_includes = [], ["#include <mahpo/study/mpi.hpp>"]
    for block in blocks:
        if "no-compile" in block.markers:
            continue
        wanted = mpi_includes if "needs-mpi" in block.markers else includes
        for line in block.code:
            include = line.split("//")[0].strip()
            if include.startswith("#include") and include not in includes + wanted:
                wanted.append(include)
    out += includes
    if any("needs-mpi" in b.markers for b in blocks):
        out += ["#if MAHPO_DOCS_MPI"] + mpi_includes + ["#endif"]
    out += ["",
            "template <typename F>",
            "int docs_call_main(F main_function, int argc, char** argv) {",
            "  if constexpr (std::is_invocable_v<F, int, char**>) {",
            "    if constexpr (std::is_void_v<std::invoke_result_t<F, int, char**>>) return main_function(argc, argv), 0;",
            "    else return main_function(argc, argv);",
            "  } else {",
            "    if constexpr (std::is_void_v<std::invoke_result_t<F>>) return main_function(), 0;",
            "    else return main_function();",
            "  }",
            "}", ""]

    entries = []  # the lines of the table below
    for number, chain in enumerate(chains(blocks)):
        name = f"docs_example_{number}"
        needs_mpi = any("needs-mpi" in b.markers for b in chain)
        runs = not any("compile-only" in b.markers for b in chain)
        if needs_mpi:
            out.append("#if MAHPO_DOCS_MPI")
        out.append(f"namespace {name} {{")
        statements = [b for b in chain if "declarations" not in b.markers and not b.is_program]
        for block in chain:
            if block.is_program:
                # main becomes a function that returns what main returns: int, or void when it
                # returns nothing (main's implicit 0)
                out.append(f'#line {block.line} "{doc_path}"')
                out += ["" if l.lstrip().startswith("#include") else MAIN.sub("auto program_main(", l)
                        for l in block.code]
                out.append(LINE_RESET)
            elif "declarations" in block.markers:
                out.append(f'#line {block.line} "{doc_path}"')
                out += ["" if l.lstrip().startswith("#include") else l for l in block.code]
                out.append(LINE_RESET)
        out.append("int run([[maybe_unused]] int argc, [[maybe_unused]] char** argv) {")
        if any(b.is_program for b in chain):
            out.append("  if (const int status = docs_call_main(program_main, argc, argv); status != 0) return status;")
        for depth, block in enumerate(statements):
            out.append("{" * (depth > 0))
            out.append(f'#line {block.line} "{doc_path}"')
            # an #include stays where it was as an empty line, so the #line numbers hold
            out += ["" if l.lstrip().startswith("#include") else l for l in block.code]
            out.append(LINE_RESET)
        out.append("}" * max(len(statements) - 1, 0))
        out.append("  return 0;")
        out.append("}")
        out.append(f"}}  // namespace {name}")
        if needs_mpi:
            out.append("#endif")
        for position, block in enumerate(chain):
            run = f"&{name}::run" if runs and position == 0 else "nullptr"
            why = "" if runs else ("compile-only" in block.markers and block.reason) or next(
                b.reason or "compile-only" for b in chain if "compile-only" in b.markers)
            entry = f'{block.line}, {run}, true, {str(runs).lower()}, {chain[0].line}, {c_string(why)}'
            if needs_mpi:
                entries += ["#if MAHPO_DOCS_MPI", f"    {{{entry}}},", "#else",
                            f'    {{{block.line}, nullptr, false, false, {chain[0].line}, "needs-mpi: mahpo::mpi is not built"}},',
                            "#endif"]
            else:
                entries.append(f"    {{{entry}}},")
    for block in blocks:
        if "no-compile" in block.markers:
            entries.append(f'    {{{block.line}, nullptr, false, false, 0, {c_string(block.reason or "no-compile")}}},')

    # One entry per block: its line, the function that runs its example (on the example's first
    # block only), whether it is compiled, whether it runs, the line of its example's first block, and
    # why it is not compiled or not run.
    out += ["", "namespace {", "struct Entry {", "  int line;", "  int (*run)(int, char**);", "  bool compiled;",
            "  bool runs;", "  int example;", "  const char* why;", "};", "const std::vector<Entry> entries = {"]
    out += entries
    out += ["};", "}  // namespace", "", f"constexpr const char* docs_document = {c_string(doc_path)};", ""]
    out.append((Path(__file__).parent / "snippets_main.inc").read_text(encoding="utf-8"))
    # after each block, errors point at this file again (the line after a #line is its number)
    out = [f'#line {i + 2} "{output_path}"' if line is LINE_RESET else line for i, line in enumerate(out)]
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    doc, output = sys.argv[1], Path(sys.argv[2])
    text = generate(doc, parse(doc), output.resolve().as_posix())
    if not output.exists() or output.read_text(encoding="utf-8") != text:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
