"""The camera simulator: real RTSP, ONVIF and HTTP snapshot servers on loopback, with injectable faults.

Modules: ``picture`` (scene frames and picture faults), ``media`` (libx264 clips, cached on disk), ``rtp``
(RFC 6184 packetization, once per clip), ``broadcast`` (one paced sender per clip), ``rtsp``, ``onvif``,
``snapshot`` and ``web`` (the servers), ``auth`` (Basic, Digest, lockout), ``faults`` (the catalogue),
``camera`` (one camera's run-time state), ``fleet`` (every camera of an Inventory), ``control`` (JSON API),
``thread`` (a fleet on a background loop, for tests). Command: ``sharpeyes sim`` (``sharpeyes/cli_sim.py``);
fault file format: ``config/sim-faults.example.yml``.
"""
