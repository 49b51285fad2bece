"""Our own SQLite database: the parse cache and (later) tags, projects and descriptions.

The only package that contains SQL.
"""
