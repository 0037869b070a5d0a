"""What a class shares: the store (a database every replica and worker reaches), the lab's
queue of training runs on it, and the worker processes that train them.

Nothing here imports Streamlit or torch at import time: the pages reach the queue through
one cached resource, and a worker imports torch only when it takes a run.
"""
