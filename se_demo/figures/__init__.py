"""Plotly figure builders, one module per page or topic: data in, figure out.

No streamlit and no model code here; `common` holds the colours and labels they share.
"""
