import shutil

import pytest

from dagster_project.spec.config import ConfigError, load_project


def test_default_city_loads(project):
    assert len(project.city.businesses) == 20
    assert len(project.city.systems) == 13
    hosted = sorted(b for s in project.city.systems for b in s.businesses)
    assert hosted == sorted(b.id for b in project.city.businesses)
    on_schedule = [s for s in project.city.systems if s.track == "on_schedule"]
    assert len(on_schedule) == 9
    assert sum(len(s.businesses) for s in on_schedule) == 13
    fixed = {s for s, lay in project.layouts.items() if any(f.format == "fixed" for f in lay.files)}
    assert "zeimu" in fixed and len(fixed) >= 3


def test_layouts_differ_the_way_real_ones_do(project):
    styles = {f.style for lay in project.layouts.values() for lf in lay.files for f in lf.fields if f.style}
    assert {"era7", "era_dotted", "ymd8"} <= styles
    assert any(f.zoned for lay in project.layouts.values() for lf in lay.files for f in lf.fields)
    assert any(f.width == "half" for lay in project.layouts.values() for lf in lay.files for f in lf.fields)
    sentinels = {k for lay in project.layouts.values() for k in lay.date_sentinels}
    assert {"0000000", "9999999"} <= sentinels


@pytest.fixture
def mappings_copy(tmp_path, project):
    dst = tmp_path / "mappings"
    shutil.copytree(project.root, dst)
    return dst


def test_missing_file_is_named(mappings_copy):
    (mappings_copy / "kaigo" / "layout.yaml").unlink()
    with pytest.raises(ConfigError, match=r"kaigo/layout\.yaml: file not found"):
        load_project(mappings_copy)


def test_wrong_field_is_named(mappings_copy):
    p = mappings_copy / "city.yaml"
    p.write_text(p.read_text(encoding="utf-8").replace("track: tokutei_ikou_shien", "track: someday", 1),
                 encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_project(mappings_copy)
    assert "city.yaml" in str(e.value) and "systems.9.track" in str(e.value)


def test_unknown_business_is_rejected(mappings_copy):
    p = mappings_copy / "city.yaml"
    p.write_text(p.read_text(encoding="utf-8").replace("businesses: [seiho]", "businesses: [seiho, welfare]"),
                 encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown business 'welfare'"):
        load_project(mappings_copy)


def test_fixed_width_lengths_must_add_up(mappings_copy):
    p = mappings_copy / "shogai" / "layout.yaml"
    p.write_text(p.read_text(encoding="utf-8").replace("record_length: 80", "record_length: 81"),
                 encoding="utf-8")
    with pytest.raises(ConfigError, match=r"(?s)shogai/layout\.yaml.*add up to 80 bytes, record_length says 81"):
        load_project(mappings_copy)


def test_bad_gaiji_row_is_named_with_its_line(mappings_copy):
    p = mappings_copy / "zeimu" / "gaiji.csv"
    p.write_text(p.read_text(encoding="utf-8") + "F546,X+1234,,,\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"(?s)zeimu/gaiji\.csv: line \d+:.*juki_code"):
        load_project(mappings_copy)
