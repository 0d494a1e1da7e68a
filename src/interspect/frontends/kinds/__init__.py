"""One module per registered model kind (see :mod:`interspect.frontends.registry`), each with
``build(name, request) -> TextValueFunction``; a kind's module is imported only when that kind is built."""
