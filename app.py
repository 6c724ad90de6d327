"""Streamlit page (placeholder until the study UI lands): search your notes, see the passages."""

from __future__ import annotations

import re

import streamlit as st

from assistant import AssistantError, StudyAssistant

st.set_page_config(page_title="MLA-C01 study assistant")


@st.cache_resource(show_spinner="Opening your notes (the first run builds the index)…")
def get_assistant() -> StudyAssistant:
    """One assistant per server process: the model and index load once."""
    sa = StudyAssistant.from_env()
    sa.ingest(progress=False)
    return sa


st.title("MLA-C01 study assistant")
st.caption("Search your own notes. Answers with citations arrive with the next release; for now you see "
           "the passages that match, with their heading and lines.")
question = st.text_input("Question", placeholder="Explain concept drift vs data drift")
if question.strip():
    try:
        hits = get_assistant().retrieve(question)
    except AssistantError as exc:
        st.error(str(exc))
    else:
        for rank, hit in enumerate(hits, 1):
            with st.expander(f"[{rank}] {hit.heading or hit.source} — {hit.source}:{hit.start_line}-{hit.end_line}",
                             expanded=rank == 1):
                # the heading path is in the label; headings inside the passage stay bold, not huge
                st.markdown(re.sub(r"^#{1,6}[ \t]+(.+)$", r"**\1**", hit.text, flags=re.M))
