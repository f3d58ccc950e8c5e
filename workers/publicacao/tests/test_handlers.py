"""Unit tests of the handlers: no engine needed (camunda_workers.testing builds the task)."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from camunda_workers.testing import make_task, run_handler

import main

ARTICLE = {
    "titulo": "Relatório Anual <2026>",
    "autor": "Ana & Bruno",
    "secoes": [
        {"titulo": "Introdução", "paragrafos": ["Um ano de trabalho.", "Muitos processos."]},
        {"titulo": "Resultados", "paragrafos": ["Tudo concluído."]},
    ],
    "tags": ["relatorio", "2026"],
    "data_publicacao": datetime(2026, 11, 28, tzinfo=UTC),
}


def test_gerar_publicacao_renders_and_stores(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLICACAO_DIR", str(tmp_path))
    outcome = run_handler(main.gerar_publicacao, make_task(ARTICLE, topic="gerar_publicacao"))
    assert outcome.completed
    result = outcome.variables
    assert result["publicacao_id"].startswith("relatorio-anual-2026-")
    assert result["publicacao_resumo"] == "Um ano de trabalho. Muitos processos. Tudo concluído."
    assert result["publicacao_palavras"] == 13
    html = Path(result["publicacao_caminho"]).read_text()
    assert "<title>Relatório Anual &lt;2026&gt;</title>" in html
    assert '<h2 id="introducao">Introdução</h2>' in html
    assert "por Ana &amp; Bruno, 2026-11-28" in html


def test_same_publication_is_stored_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLICACAO_DIR", str(tmp_path))
    first = run_handler(main.gerar_publicacao, make_task(ARTICLE, topic="gerar_publicacao"))
    again = run_handler(main.gerar_publicacao, make_task(ARTICLE, topic="gerar_publicacao"))
    assert first.variables["publicacao_id"] == again.variables["publicacao_id"]
    assert len(list(tmp_path.iterdir())) == 1


def test_invalid_input_is_a_bpmn_error_listing_every_problem() -> None:
    bad = {"titulo": " ", "secoes": [{"titulo": "x", "paragrafos": "not a list"}], "tags": "a"}
    outcome = run_handler(main.gerar_publicacao, make_task(bad, topic="gerar_publicacao"))
    assert outcome.bpmn_error is not None
    assert outcome.bpmn_error.code == "PUBLICACAO_INVALIDA"
    assert outcome.bpmn_error.variables["publicacao_erros"] == [
        "titulo: required text is missing",
        "autor: required text is missing",
        "secoes.0.paragrafos: expected a list of strings",
        "tags: expected a list of strings",
    ]
