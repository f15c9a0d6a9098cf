{
  "targets": [
    {
      "target_name": "udp",
      "sources": ["udp.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"],
      "cflags!": ["-fno-exceptions"],
      "ldflags": ["-Wl,--build-id=none"]
    }
  ]
}
