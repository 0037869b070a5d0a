"""What bench/, scripts/ and tests/ share to drive the real app from outside.

  appserver.py   ``streamlit run app.py`` on a free port, and the Chromium to drive it with
  ws_session.py  one Streamlit session without a browser: the websocket protocol, spoken
  canvas.py      the Draw page's canvas: its selectors, digits as strokes, drawings as it sends them
  replicas.py    N replicas behind nginx, one store, one worker
  postgres.py    a throwaway PostgreSQL server

Nothing here imports from bench/, scripts/ or tests/; they all import from here.
"""
