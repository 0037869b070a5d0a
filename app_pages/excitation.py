"""Placeholder until its issue lands (being built now)."""

import streamlit as st

st.title("Excitation")
st.info("This page is being built.")
