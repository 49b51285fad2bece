"""`lsm monitor`: the live dashboard.

- ``snapshot``: what one frame shows (built from ``service.collect()``), and the ``Refresher`` that
  decides, cheaply, when a new ``collect()`` is needed;
- ``render``: a pure function from a snapshot and the view state (selection, sort, scope, panes) to a
  Rich renderable that lays itself out for the terminal it is printed on;
- ``loop``: the one-threaded Rich ``Live`` loop: keys read with ``select()`` in cbreak mode, the
  terminal always restored.
"""
