"""se-demo: Squeeze-and-Excitation networks on MNIST, side by side. ``streamlit run app.py``."""

from __future__ import annotations

import streamlit as st

from app_pages.resources import data_dir_label, load_models, load_test_split
from se_demo.checkpoints import CheckpointError
from se_demo.evaluate import MODEL_TITLES
from se_demo.models import count_parameters

st.set_page_config(
    page_title="se-demo: Squeeze-and-Excitation on MNIST", page_icon="🧠", layout="wide"
)

pages = [
    st.Page("app_pages/results.py", title="Results", icon="📊", default=True),
    st.Page("app_pages/draw.py", title="Draw a digit", icon="✏️"),
    st.Page("app_pages/excitation.py", title="SE excitation", icon="🔬"),
]

with st.sidebar:
    st.markdown("### Loaded models")
    try:
        models = load_models()
    except CheckpointError as error:
        st.error(f"The shipped checkpoints could not be loaded: {error}")
        st.stop()
    for name, (model, record) in models.items():
        train = record["train"]
        st.markdown(
            f"**{MODEL_TITLES[name]}**: {count_parameters(model):,} parameters  \n"
            f"{record['epochs']} epochs, batch {train['batch_size']}, lr {train['lr']:g}, "
            f"seed {train['seed']}; trained {record['created'][:10]}"
        )
    if load_test_split() is None:
        st.warning(
            f"MNIST is not available at {data_dir_label()}: pages show the saved results; "
            "browsing test images is off. Set SE_DEMO_DATA to a folder holding MNIST/raw."
        )
    else:
        st.caption(f"MNIST test set loaded from {data_dir_label()}")

st.navigation(pages).run()
