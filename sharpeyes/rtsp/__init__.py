"""Our own small asyncio RTSP client: bounded parsing, Digest auth, SDP and H.264/H.265 helpers.

Used by the ``rtsp`` liveness prober (OPTIONS, DESCRIBE) and the frame grabber (SETUP, PLAY, RTP).
"""
