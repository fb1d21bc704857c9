"""Built-in plugins. Each registers through the ``santokit`` entry-point group, like any other."""
