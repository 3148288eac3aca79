"""Gene ids are read as strings: a gene named NA loads, a bad table fails in one line."""

import numpy as np
import pytest

from loop.design import build_design_space
from loop.run.lab import lookup_table
from loop.campaign.spec import GeneDesign, parse_spec
from loop.design.datasets import read_table


def _screen(tmp_path, header="Gene,Score"):
    table = tmp_path / "screen.csv"
    table.write_text(f"{header}\nNA,2.5\nNULL,-1.0\nTP53,NA\nnan,0.5\n")
    return table


def test_a_gene_named_na_is_a_gene(tmp_path):
    table = _screen(tmp_path)
    frame = read_table(table, ["Gene", "Score"], ids="Gene", numeric=["Score"])
    assert frame["Gene"].tolist() == ["NA", "NULL", "TP53", "nan"]
    assert np.isnan(frame["Score"].iloc[2])  # a missing score is still missing
    essential = tmp_path / "essential.txt"
    essential.write_text("GENE\nNA\n")
    space = build_design_space(GeneDesign(table=str(table), gene_sets=[],
                                          essential_genes=str(essential)))
    assert space.ids == ["KO:NA", "KO:NULL", "KO:TP53", "KO:nan"]
    assert space.X[:, space.feature_names.index("is_essential")].tolist() == [1, 0, 0, 0]
    spec = parse_spec({"name": "na", "design_space": {"kind": "genes", "table": str(table)},
                       "lab": {"kind": "simulated", "table": str(table)}})
    assert lookup_table(spec, None) == {"KO:NA": 2.5, "KO:NULL": -1.0, "KO:nan": 0.5}


def test_a_table_without_its_id_column_fails_in_one_line(tmp_path):
    table = _screen(tmp_path, header="Symbol,Score")
    with pytest.raises(ValueError) as err:
        build_design_space(GeneDesign(table=str(table), gene_sets=[],
                                      essential_genes=None))
    message = str(err.value)
    assert "\n" not in message and "'Gene'" in message and str(table) in message
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="the file is empty") as err:
        read_table(empty, ["Gene"], ids="Gene")
    assert "\n" not in str(err.value)
