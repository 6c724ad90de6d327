"""Tighter answers (issue 15): lines chosen for the question asked, the most relevant first, short
(~70 words, more only for lines nearly as good as the best). End to end through StudyAssistant on a tmp
corpus: a services overview that ranks high for any SageMaker question, and a separate note on the tool
asked about, in another style."""

from __future__ import annotations

from conftest import write_notes

from assistant.evaluation.harness import answer_words

SERVICES = """# ML services on AWS

## SageMaker overview
SageMaker is a managed service to build, train and deploy models at scale.

## Model Monitor
- **Model Monitor:** Watches deployed SageMaker endpoints for data drift and model quality.
- **Baselines:** Compares live traffic with statistics computed from the training data.

## Feature Store
- **Feature Store:** Stores SageMaker features for training and inference in one place.
- **Offline store:** Keeps the history of feature values in S3 for building training sets.

## Bedrock
- **Bedrock:** Serves foundation models through one API; no SageMaker endpoint to manage.
"""

CANVAS = """# SageMaker Canvas

Canvas is where the business analysts on our team build models themselves.

- **Sharing:** Analysts can share Canvas models with data scientists in SageMaker Studio for review.
- **Data import:** Canvas imports data from S3, Redshift and local files, and joins datasets in the UI.
- **SageMaker Canvas:** A no-code visual interface that lets business analysts build ML models and \
generate predictions without writing code.
- **Quick build vs standard build:** Quick build trains a model in minutes; standard build takes longer \
and gives more accurate models.
"""


def test_the_entry_for_what_is_asked_comes_first_and_other_services_stay_out(tmp_path, make_assistant):
    write_notes(tmp_path / "corpus", {"services.md": SERVICES, "tools/canvas.md": CANVAS})
    sa = make_assistant(tmp_path)
    sa.ingest(progress=False)
    answer = sa.answer("what is sagemaker canvas?")
    assert not answer.abstained, answer.text
    first = answer.text.split("\n")[0]
    assert first.startswith("- **SageMaker Canvas:** A no-code visual interface"), answer.text
    # the overview passages rank high for "sagemaker", but none of their lines is about Canvas
    for other in ("Model Monitor", "Feature Store", "Bedrock", "managed service to build"):
        assert other not in answer.text, answer.text
    assert answer_words(answer.text) <= 100
