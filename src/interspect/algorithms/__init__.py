"""Algorithms that recover a sparse Fourier transform from model queries (see ``base.METHODS``)."""
