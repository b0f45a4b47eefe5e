"""Local differential privacy: frequency oracles and multidimensional protocols.

Each device randomizes its own value before it leaves; the server estimates frequencies from
the noisy reports. Batch calls take and return NumPy arrays; reports are their wire encodings
(``protocol-spec/ldp.md``), one row of a 2-D ``uint8`` array per report::

    import numpy as np
    from secagg.ldp import FrequencyOracle
    oracle = FrequencyOracle("olh", k=10, epsilon=1.0)
    reports = oracle.randomize_batch(np.random.randint(0, 10, 100_000))   # on the devices
    freq = oracle.estimate(reports)                                       # on the server

``seed`` (32 bytes) makes a batch reproducible, for simulations and test vectors only: whoever
knows the seed can undo the randomization. Without it every call draws from the OS generator.
"""

from ._secagg import FrequencyOracle, LdpError, Multidim

__all__ = ["FrequencyOracle", "Multidim", "LdpError"]
