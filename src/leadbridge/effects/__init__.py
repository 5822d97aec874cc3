"""Effect kinds: one module each, declared once and listed in ``registry``."""
