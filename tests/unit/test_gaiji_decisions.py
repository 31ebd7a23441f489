import shutil

import pytest

from dagster_project.spec.config import ConfigError, load_project
from dagster_project.conformance.gaiji import load_gaiji_decisions

HEADER = "system,code,decision,character,rule,decided_by,decided_on,note\n"


@pytest.fixture
def with_decisions(tmp_path, project):
    root = tmp_path / "mappings"
    shutil.copytree(project.root, root)

    def write(body):
        (root / "gaiji" / "decisions.csv").write_text(HEADER + body, encoding="utf-8")
        return load_project(root)
    return write


def test_the_shipped_decisions_load(project):
    d = load_gaiji_decisions(project)
    assert [(x.system, x.code, x.character) for x in d] == [("jumin", "F045", "㟢")]


@pytest.mark.parametrize("row,message", [
    ("jumin,E000,同定,㟢,,a,2026-11-01,\n", r"line 2:.*field code"),
    ("jumin,F045,同定,,,a,2026-11-01,\n", r"line 2:.*needs the standard character"),
    ("jumin,F045,縮退,崎,,a,2026-11-01,\n", r"line 2:.*縮退 needs the rule"),
    ("jumin,F045,推測,崎,,a,2026-11-01,\n", r"line 2:.*field decision"),
    ("water,F045,同定,㟢,,a,2026-11-01,\n", r"line 2: field system: 'water'"),
    ("jumin,F045,同定,㟢,,a,2026-11-01,\njumin,F045,要確認,,,b,2026-11-02,\n", r"line 3: field code: jumin F045 decided twice"),
])
def test_a_wrong_decision_is_named_with_its_line(with_decisions, row, message):
    with pytest.raises(ConfigError, match=r"(?s)decisions\.csv: " + message):
        load_gaiji_decisions(with_decisions(row))
