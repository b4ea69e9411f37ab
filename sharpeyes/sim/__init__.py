"""The camera simulator: real RTSP, ONVIF and HTTP snapshot servers on loopback, with injectable faults."""
