"""Model definitions: one folder per model, ``model_build/models/<name>/model.yaml``.

* :mod:`model_build.definition.schema`: :class:`ModelDefinition` and its sections.
* :mod:`model_build.definition.loader`: :func:`load_definition`, every issue at once.
* :mod:`model_build.definition.catalog`: the model folders of a repository, found by name or path.
"""
