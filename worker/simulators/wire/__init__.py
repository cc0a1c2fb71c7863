"""The simulators' own wire-format code: times, calling hours and request bodies.

A simulator stands in for a provider, so it writes and reads the provider's formats with
code of its own, never with the worker's readers in ``worker.domain``: were both sides to
share one parser, a bug in it would be mirrored and every contract test would still pass.
This code is the oracle the worker is tested against, so it is written to be plainly right
rather than fast or clever. An import contract in ``pyproject.toml`` keeps it apart.

* :mod:`.times`: unix ms, ISO-8601, VOXO's wall-clock times in an IANA zone;
* :mod:`.hours`: calling hours, whether they are open and when that next changes;
* :mod:`.bodies`: request bodies read field by field, with vox's and Sarvam's hours shapes;
* :mod:`.errors`: ``BadField``, the refusal of one field.
"""
