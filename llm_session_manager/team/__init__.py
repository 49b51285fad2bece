"""Team mode: every developer's lsm pushes its numbers to one shared PostgreSQL, and `--team` reads
everyone's. ``schema`` holds the append-only migrations, ``push`` what leaves a machine and how it is
written, ``read`` the team's list, report and limits queries. psycopg is imported lazily (the ``team``
extra); nothing here reads the environment: the URL and names come from the configuration."""
