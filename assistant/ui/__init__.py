"""What the Streamlit app (app.py) shows: text rendered safely as HTML, and feedback records."""
