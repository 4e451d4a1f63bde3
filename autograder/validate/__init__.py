"""``validate``: the reference gets full marks, the template zero, every mutant is killed and
every alternative accepted (see :mod:`.run` and :mod:`.catalogue`)."""
