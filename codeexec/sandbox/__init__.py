"""The sandbox: a long-lived server process with the data stack imported, which runs
each execution in a fresh, locked-down child forked from it.

Nothing in this package imports Django: the server must hold no settings, no secrets
and no database connection that a child could inherit.
"""
