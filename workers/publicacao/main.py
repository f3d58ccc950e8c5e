"""publicacao: Renders a publication document from process variables and returns its id and summary.
"""

from pathlib import Path
from typing import Any

from camunda_workers import CamundaWorkersError, Task, Worker

from document import Publication
from rendering import render_html
from storage import store

try:
    worker = Worker.from_spec(Path(__file__).with_name("worker.json"))
except CamundaWorkersError as error:  # a bad worker.json or environment: one clear line, exit 1
    raise SystemExit(str(error)) from None


@worker.topic("gerar_publicacao",
              variables=["titulo", "autor", "secoes", "tags", "data_publicacao"])
def gerar_publicacao(task: Task) -> dict[str, Any]:
    """Render the publication, store it, return its id, summary and size.

    Invalid input is a BPMN error (PUBLICACAO_INVALIDA) the process handles; a storage
    failure is a technical failure, retried by the worker.
    """
    publication = Publication.from_variables(task.variables)
    stored = store(render_html(publication), publication.title)
    return {
        "publicacao_id": stored.id,
        "publicacao_resumo": publication.summary(),
        "publicacao_palavras": publication.word_count,
        "publicacao_caminho": str(stored.path),
    }


if __name__ == "__main__":
    worker.run()
