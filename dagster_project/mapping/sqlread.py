"""What every model generator shares: the templates, the header, and readers that never raise.

The generators (:mod:`.dbtgen`, :mod:`.findgen`, :mod:`.confgen`, :mod:`.recongen`) render the
Jinja2 templates of ``templates/``. The models they write are dbt Jinja themselves (``{{ ref() }}``,
``{{ kikan.x() }}``), so the templates use other delimiters: ``[[ value ]]``, ``[% statement %]``
and ``[# comment #]``; everything in braces is written as it stands, for dbt.

Every value of a legacy file reaches the models as text; a cast that cannot take it must give a
null and a flag naming the record, never an error that stops a system's models and quotes the
value (issue 17). Imports nothing of the project but the amount form, so every generator may use it.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from dagster_project.core.amounts import AMOUNT_PATTERN

TEMPLATES = Path(__file__).resolve().parent / "templates"


def q(s) -> str:
    """A SQL string literal."""
    return "'" + str(s).replace("'", "''") + "'"


def jinja_str(sql: str) -> str:
    """``sql`` as a Jinja string literal (an argument of a kikan.* macro): in double quotes when it
    holds a single quote and no double quote (SQL literals inside read as they are), else single."""
    sql = sql.replace("\\", "\\\\")
    if "'" in sql and '"' not in sql:
        return '"' + sql + '"'
    return "'" + sql.replace("'", "\\'") + "'"


class JinjaExpr(str):
    """A Jinja expression given to a macro as it stands (a variable of the model), not as a string."""


def jinja_literal(value) -> str:
    """A Python value (str, int, bool, None, list, tuple, dict) as a Jinja literal, for a macro's argument."""
    if isinstance(value, JinjaExpr):
        return str(value)
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return jinja_str(value)
    if isinstance(value, tuple):
        return "(" + ", ".join(jinja_literal(v) for v in value) + ")"
    if isinstance(value, list):
        return "[" + ", ".join(jinja_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{jinja_literal(k)}: {jinja_literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no Jinja literal for {type(value).__name__}")


WIDTH = 120   # the longest line a generated file should have (sqlfluff's max_line_length)


def fill(parts: list[str], indent: int, width: int = WIDTH, sep: str = ", ", tail: int = 0) -> str:
    """``parts`` joined by ``sep`` and wrapped greedily: a line starting at column ``indent`` (the
    first line's start is the caller's) holds what fits in ``width``; ``tail``: the characters that
    follow the last part on its line."""
    lines, line = [], ""
    for i, p in enumerate(parts):
        piece = p + (sep.rstrip() if i < len(parts) - 1 else "")
        extra = tail if i == len(parts) - 1 else 0
        if line and indent + len(line) + 1 + len(piece) + extra > width:
            lines.append(line)
            line = piece
        else:
            line = f"{line} {piece}" if line else piece
    lines.append(line)
    return ("\n" + " " * indent).join(lines)


def macro_call(name: str, *args, indent: int | None = None, tail: int = 0, **kwargs) -> str:
    """``{{ kikan.<name>(args, key=value) }}``: keyword arguments whose value is None are left out.
    ``indent``: the column the call starts at; a call that would run past the line's width goes
    on over lines aligned under its first argument (``tail``: what follows the call on its line)."""
    parts = [jinja_literal(a) for a in args] + [f"{k}={jinja_literal(v)}" for k, v in kwargs.items() if v is not None]
    start = "{{ kikan." + name + "("
    if indent is None:
        return start + ", ".join(parts) + ") }}"
    return start + fill(parts, indent + len(start), tail=tail + 4) + ") }}"


def values_row(row, indent: int, base: int = 0) -> str:
    """A row of a VALUES list at column ``indent`` (of a text the caller indents by ``base`` more):
    its values as SQL literals in parentheses; a row longer than the line has its values on lines
    of their own, inside the parentheses (sqlfluff's layout)."""
    parts = ["null" if v is None else str(v) if isinstance(v, int) else q(v) for v in row]
    one = "(" + ", ".join(parts) + ")"
    if base + indent + len(one) + 1 <= WIDTH:
        return one
    wrapped = fill(parts, base + indent + 4).replace("\n" + " " * base, "\n")
    return "(\n" + " " * (indent + 4) + wrapped + "\n" + " " * indent + ")"


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        variable_start_string="[[", variable_end_string="]]",
        block_start_string="[%", block_end_string="%]",
        comment_start_string="[#", comment_end_string="#]",
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined, autoescape=False,
    )
    env.filters.update(q=q, js=jinja_str, lit=jinja_literal,
                       dict_items_lit=lambda d: [f"{jinja_literal(k)}: {jinja_literal(v)}" for k, v in d.items()])
    env.filters["values_row"] = values_row
    env.globals.update(call=macro_call, fill=fill,
                       render_values=lambda rows, columns, name, at=0: env.get_template("_values.sql.j2").render(
                           rows=rows, columns=columns, name=name, at=at).rstrip("\n"))
    return env


ENV = _env()


def render(template: str, **context) -> str:
    """A template of ``templates/`` rendered: one generated file's content."""
    return ENV.get_template(template).render(**context)


def _grouped(paths) -> str:
    """Paths as a reader takes them in: files of one folder and suffix together
    (``mappings/jumin/{layout,mapping}.yaml``), in sorted order, each once."""
    groups: dict[tuple[str, str], list[str]] = {}
    for p in sorted(set(paths)):
        folder, _, name = p.rpartition("/")
        stem, dot, suffix = name.partition(".")
        groups.setdefault((folder, dot + suffix), []).append(stem)
    out = []
    for (folder, suffix), stems in groups.items():
        names = stems[0] if len(stems) == 1 else "{" + ",".join(stems) + "}"
        out.append(f"{folder}/{names}{suffix}")
    return ", ".join(out)


def header(files, comment: str = "--") -> str:
    """The first line of every generated file: the files of ``mappings/`` it follows (paths relative
    to the project; the standard catalog in ``seeds/`` goes without saying), and that ``kikan
    generate`` writes it: edit those files and run it, never this one. ``comment``: ``--`` (SQL),
    ``#`` (YAML) or ``{#`` (a macro file)."""
    text = f"generated by `kikan generate` from {_grouped(files)}; do not edit"
    if comment == "{#":
        return "{# " + text + " #}"
    return f"{comment} {text}"


def _lower_keywords(sql: str) -> str:
    """sqlglot's SQL with keywords, types and functions in lower case (the models' style); the
    text of string literals and quoted identifiers is left as it is."""
    from sqlglot.tokens import Tokenizer, TokenType

    keep = {TokenType.STRING, TokenType.NATIONAL_STRING, TokenType.IDENTIFIER, TokenType.BIT_STRING,
            TokenType.HEX_STRING, TokenType.BYTE_STRING, TokenType.RAW_STRING}
    out, pos = [], 0
    for tok in Tokenizer(dialect="duckdb").tokenize(sql):
        out.append(sql[pos:tok.start])
        piece = sql[tok.start:tok.end + 1]
        out.append(piece if tok.token_type in keep else piece.lower())
        pos = tok.end + 1
    out.append(sql[pos:])
    return "".join(out)


def safe_expr(expr: str) -> str:
    """A mapping expression with every CAST made a TRY_CAST: one value a cast cannot take (a
    対象児童数 of 11 digits in ``cast(jido_su as integer)``) failed the whole system's models and put
    the value into dbt's error text; now it is null, and the item's flag names the record.

    A cast to a signed integer narrower than BIGINT is widened to BIGINT: the standard's integer
    column is a BIGINT, so the narrow type only turned a number into a null (11 digits are not an
    INTEGER); read whole, it is measured against the item's digits and range and flagged as what
    it is (桁数超過, 範囲外), with its record."""
    import sqlglot
    from sqlglot import exp

    narrow = {exp.DataType.Type.TINYINT, exp.DataType.Type.SMALLINT, exp.DataType.Type.INT}

    def fix(n):
        if not isinstance(n, exp.Cast):
            return n
        to = n.args["to"]
        if isinstance(to, exp.DataType) and to.this in narrow:
            to = exp.DataType.build("bigint")
        return exp.TryCast(this=n.this, to=to)

    return _lower_keywords(sqlglot.parse_one(expr, read="duckdb").transform(fix).sql(dialect="duckdb"))


def read_bigint_sql(expr: str) -> str:
    """The integer an expression holds, read strictly: its text must be ``-?[0-9]+`` and fit a
    BIGINT, else null (then the item's flag says 数値変換不可). ``try_cast`` alone is lax: it takes
    '1_000', ' 12 ', '0x10' and '1e3', and rounds 12.5 to 13."""
    return macro_call("read_bigint", f"cast({expr} as string)", AMOUNT_PATTERN)
