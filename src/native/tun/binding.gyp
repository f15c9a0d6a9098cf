{
  "targets": [
    {
      "target_name": "tun",
      "sources": ["tun.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"],
      "cflags!": ["-fno-exceptions"],
      "ldflags": ["-Wl,--build-id=none"]
    }
  ]
}
