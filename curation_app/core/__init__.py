"""Domain logic as plain functions. Never imports streamlit."""
