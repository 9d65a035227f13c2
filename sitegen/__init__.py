"""The site generator: load -> validate -> render -> write (see build.py)."""
